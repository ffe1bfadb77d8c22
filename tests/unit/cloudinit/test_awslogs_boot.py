"""The boot step that fills the region and log group into daemon.json from IMDSv2.

It runs only on EC2, so here it runs in bash against a stub `curl` (no network at all): the
stub answers like the instance metadata service of an instance in eu-west-1 tagged with its
stack's log group.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from swarmstack.cloudinit import render_user_data
from swarmstack.cloudinit.tuning import DAEMON_JSON

from .variants import make_spec

FAKE_CURL = r"""
curl() {
    local url="${*: -1}"
    echo "curl $*" >>"$CALLS"
    case "$url" in
    */latest/api/token) echo "token-123" ;;
    */meta-data/placement/region) echo -n "$REGION" ;;
    */meta-data/tags/instance/swarmstack-log-group)
        [ -n "$LOG_GROUP" ] || return 22  # curl -f on a 404: tags not enabled
        echo -n "$LOG_GROUP" ;;
    *) return 7 ;;
    esac
}
log() { echo "swarmstack: $*" >&2; }
fail() { echo "swarmstack: error: $*" >&2; exit 1; }
"""


def boot_step() -> tuple[str, str]:
    """The CloudWatch step of the AWS setup script, and the daemon.json next to it."""
    text = render_user_data(make_spec(enable_cloudwatch_logs=True), "worker", "aws")
    files = {f["path"]: f["content"] for f in yaml.safe_load(text)["write_files"]}
    script = files["/usr/local/sbin/swarmstack-host-setup"]
    start = script.index("# --- CloudWatch logs")
    end = script.index("# --- packages")
    return script[start:end], files[DAEMON_JSON]


def run_step(
    tmp_path: Path, region: str, log_group: str, *, fresh: bool = True
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the step on tmp_path/daemon.json (a fresh copy of the rendered one unless told)."""
    step, daemon_json = boot_step()
    config = tmp_path / "daemon.json"
    if fresh:
        config.write_text(daemon_json)
    script = tmp_path / "step.sh"
    script.write_text("set -euo pipefail\n" + FAKE_CURL + step.replace(DAEMON_JSON, str(config)))
    result = subprocess.run(
        ["bash", str(script)],
        env={
            "PATH": "/usr/bin:/bin",
            "CALLS": str(tmp_path / "calls"),
            "REGION": region,
            "LOG_GROUP": log_group,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return result, config


def test_region_and_log_group_come_from_imdsv2(tmp_path: Path) -> None:
    result, config = run_step(tmp_path, "eu-west-1", "/swarmstack/prod/containers")
    assert result.returncode == 0, result.stderr
    opts = json.loads(config.read_text())["log-opts"]
    assert opts["awslogs-region"] == "eu-west-1"
    assert opts["awslogs-group"] == "/swarmstack/prod/containers"
    calls = (tmp_path / "calls").read_text()
    assert "-X PUT" in calls  # IMDSv2: a session token first ...
    assert calls.count("X-aws-ec2-metadata-token: token-123") == 2  # ... then sent each time


def test_without_instance_metadata_tags_the_boot_fails_clearly(tmp_path: Path) -> None:
    result, config = run_step(tmp_path, "eu-west-1", "")
    assert result.returncode == 1
    assert "instance tag swarmstack-log-group" in result.stderr
    assert "@@LOG_GROUP@@" in config.read_text()  # nothing half-written


@pytest.mark.parametrize(
    ("region", "log_group"),
    [("eu-west-1", "group|with&sed-specials"), ("eu-west-1; rm -rf /", "/swarmstack/x")],
)
def test_unexpected_metadata_values_are_refused(
    tmp_path: Path, region: str, log_group: str
) -> None:
    result, config = run_step(tmp_path, region, log_group)
    assert result.returncode == 1
    assert "unexpected" in result.stderr
    assert "@@AWS_REGION@@" in config.read_text()


def test_a_filled_in_daemon_json_is_left_alone(tmp_path: Path) -> None:
    result, config = run_step(tmp_path, "eu-west-1", "/swarmstack/prod/containers")
    assert result.returncode == 0
    (tmp_path / "calls").unlink()
    result, _ = run_step(tmp_path, "us-east-1", "/other", fresh=False)
    assert result.returncode == 0
    assert not (tmp_path / "calls").exists()  # no metadata calls on a second run
    assert json.loads(config.read_text())["log-opts"]["awslogs-region"] == "eu-west-1"
