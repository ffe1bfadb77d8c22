"""SSH never re-tunes a host cloud-init tuned for its cloud: one marker, cloud-init waited for
first, and a cloud host's marker accepted as tuned (issue 12, point 5)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from swarmstack.cloudinit import render_user_data, ssh_tuning
from swarmstack.contract import TUNING_MARKER
from swarmstack.provisioners.facts import FACTS_COMMAND, parse_facts, tuned_by_cloud_init
from swarmstack.provisioners.inventory import Host, Inventory, SshSettings
from swarmstack.provisioners.swarm import plan_preparation
from swarmstack.spec import ClusterSpec

# Pools inside the benchmark range, so that the local machines' form is allowed too.
SPEC = ClusterSpec.model_validate({"name": "prod", "default_addr_pool": ["198.19.0.0/18"]})


def marker_line(script: str) -> str:
    """The JSON line a tuning script (SSH form or inside user data) writes into the marker."""
    (line,) = [ln.strip() for ln in script.splitlines() if ln.endswith(f">{TUNING_MARKER}")]
    words = shlex.split(line.removesuffix(f">{TUNING_MARKER}"))
    assert words[0] == "echo"
    return words[1]


def test_the_marker_cloud_init_writes_on_aws_and_azure_counts_as_tuned() -> None:
    for cloud in ("aws", "azure"):
        marker = marker_line(render_user_data(SPEC, "manager", cloud))
        assert json.loads(marker)["cloud"] == cloud
        assert tuned_by_cloud_init(marker)


def test_the_ssh_forms_marker_does_not() -> None:
    for local_machine in (False, True):
        marker = marker_line(ssh_tuning(SPEC, "worker", local_machine=local_machine).text)
        assert not tuned_by_cloud_init(marker)
    assert not tuned_by_cloud_init('{"cloud": "aws"}')  # no digest: not a finished tuning
    assert not tuned_by_cloud_init("garbage")


def facts_with(marker: str) -> str:
    return f"@@hostname\nh1\n@@tuning\n{marker}\n@@nodocker\n"


def test_a_cloud_host_is_never_tuned_again_over_ssh_but_an_ssh_host_is() -> None:
    inventory = Inventory(
        ssh=SshSettings(known_hosts=Path("/nonexistent/known_hosts")),
        hosts=(Host("198.18.0.11", "manager"), Host("198.18.0.12", "worker")),
    )
    cloud_marker = marker_line(render_user_data(SPEC, "manager", "aws"))
    old_ssh_marker = json.dumps({"cloud": "generic", "tuning": "0ld0ld"})
    facts = {
        "198.18.0.11": parse_facts("198.18.0.11", facts_with(cloud_marker)),
        "198.18.0.12": parse_facts("198.18.0.12", facts_with(old_ssh_marker)),
    }
    wanted = {
        address: ssh_tuning(SPEC, host.role).digest
        for address, host in (
            ("198.18.0.11", inventory.hosts[0]),
            ("198.18.0.12", inventory.hosts[1]),
        )
    }
    assert facts["198.18.0.11"].tuning_digest != wanted["198.18.0.11"]  # the digests differ
    steps = plan_preparation(inventory, facts, wanted)
    assert [(s.action, s.host) for s in steps] == [("tune", "198.18.0.12")]


def run_facts(tmp_path: Path, *, marker_before: bool) -> tuple[str, list[str]]:
    """FACTS_COMMAND with the marker under tmp_path and a fake cloud-init that writes it when
    its `status --wait` returns (as the user data's last step does)."""
    marker = tmp_path / "host-tuned"
    calls = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    timeout = shutil.which("timeout")
    assert timeout
    (bin_dir / "timeout").symlink_to(timeout)
    fake = bin_dir / "cloud-init"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >>{shlex.quote(str(calls))}\n'
        f'echo \'{{"cloud": "aws", "tuning": "c10ud"}}\' >{shlex.quote(str(marker))}\n'
    )
    fake.chmod(0o755)
    if marker_before:
        marker.write_text('{"cloud": "aws", "tuning": "ear1y"}\n')
    command = FACTS_COMMAND.replace(TUNING_MARKER, str(marker))
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        env={**os.environ, "PATH": str(bin_dir)},  # no docker here: the facts stop at @@nodocker
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = calls.read_text().splitlines() if calls.exists() else []
    return result.stdout, lines


def test_facts_wait_for_cloud_init_before_reading_a_missing_marker(tmp_path: Path) -> None:
    out, calls = run_facts(tmp_path, marker_before=False)
    assert calls == ["status --wait"]
    facts = parse_facts("198.18.0.11", out)
    assert facts.tuning_digest == "c10ud"
    assert facts.tuned_by_cloud_init


def test_facts_do_not_call_cloud_init_once_the_marker_is_there(tmp_path: Path) -> None:
    out, calls = run_facts(tmp_path, marker_before=True)
    assert calls == []
    assert parse_facts("198.18.0.11", out).tuning_digest == "ear1y"
