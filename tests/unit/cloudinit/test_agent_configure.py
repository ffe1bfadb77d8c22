"""The boot step that applies the console's EnableCloudWatchLogs and EnableSystemPrune.

The node agent exactly as the AWS user data ships it (compacted source under
/usr/local/lib/swarmstack) runs on this machine's python3 against a fake instance metadata
service on loopback (AWS_EC2_METADATA_SERVICE_ENDPOINT, as the simulation sets it): IMDSv2
token first, then the instance's tags.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from swarmstack.cloudinit import render_user_data
from swarmstack.cloudinit.tuning import DAEMON_JSON

from .variants import make_spec

TOKEN = "imds-token-1"


class FakeImds(BaseHTTPRequestHandler):
    """IMDSv2 of an instance in eu-west-1; ``tags`` are its instance tags."""

    tags: ClassVar[dict[str, str]] = {}
    calls: ClassVar[list[str]] = []

    def do_PUT(self) -> None:
        self.calls.append(f"PUT {self.path}")
        if (
            self.path == "/latest/api/token"
            and self.headers["X-aws-ec2-metadata-token-ttl-seconds"]
        ):
            self._answer(200, TOKEN)
        else:
            self._answer(400, "")

    def do_GET(self) -> None:
        self.calls.append(f"GET {self.path}")
        if self.headers["X-aws-ec2-metadata-token"] != TOKEN:
            self._answer(401, "")
            return
        prefix = "/latest/meta-data/tags/instance/"
        if self.path == "/latest/meta-data/placement/region":
            self._answer(200, "eu-west-1")
        elif self.path.startswith(prefix) and self.path[len(prefix) :] in self.tags:
            self._answer(200, self.tags[self.path[len(prefix) :]])
        else:
            self._answer(404, "")

    def _answer(self, status: int, body: str) -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def imds() -> Iterator[tuple[str, type[FakeImds]]]:
    handler = type("Imds", (FakeImds,), {"tags": {}, "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def install_user_data_files(root: Path) -> None:
    """Write the AWS user data's files under ``root`` as cloud-init would under /."""
    text = render_user_data(make_spec(), "worker", "aws")
    for entry in yaml.safe_load(text)["write_files"]:
        path = root / entry["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry["content"])
        path.chmod(int(entry["permissions"], 8))


def configure(root: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    bin_dir = root / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$@" >>{root}/systemctl-calls\n')
    systemctl.chmod(0o755)
    return subprocess.run(
        ["/usr/bin/python3", "-m", "swarmstack.provisioners.nodeagent", "configure"],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "PYTHONPATH": str(root / "usr/local/lib/swarmstack"),
            "NODE_AGENT_ROOT": str(root),
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def daemon_json(root: Path) -> dict[str, object]:
    data = json.loads((root / DAEMON_JSON.lstrip("/")).read_text())
    assert isinstance(data, dict)
    return data


def test_cloudwatch_logs_on_means_awslogs_to_the_tagged_group(
    tmp_path: Path, imds: tuple[str, type[FakeImds]]
) -> None:
    endpoint, handler = imds
    handler.tags.update(
        {"swarmstack-log-group": "prod-LogGroup-1", "swarmstack-system-prune": "no"}
    )
    install_user_data_files(tmp_path)
    result = configure(tmp_path, endpoint)
    assert result.returncode == 0, result.stderr
    config = daemon_json(tmp_path)
    assert config["log-driver"] == "awslogs"
    assert config["log-opts"] == {
        "awslogs-group": "prod-LogGroup-1",
        "awslogs-region": "eu-west-1",
        "max-buffer-size": "4m",
        "mode": "non-blocking",
    }
    assert handler.calls[0] == "PUT /latest/api/token"  # IMDSv2: a session token first
    assert not (tmp_path / "systemctl-calls").exists()  # prune stays off


def test_cloudwatch_logs_off_means_the_local_driver_and_a_boot_that_goes_on(
    tmp_path: Path, imds: tuple[str, type[FakeImds]]
) -> None:
    endpoint, handler = imds
    handler.tags.update({"swarmstack-system-prune": "yes"})  # console: logs no, prune yes
    install_user_data_files(tmp_path)
    result = configure(tmp_path, endpoint)
    assert result.returncode == 0, result.stderr
    config = daemon_json(tmp_path)
    assert config["log-driver"] == "local"
    assert config["log-opts"] == {"max-file": "5", "max-size": "20m"}
    calls = (tmp_path / "systemctl-calls").read_text()
    assert "enable --now swarmstack-docker-prune.timer" in calls


def test_without_instance_metadata_the_node_still_boots_with_local_logs(tmp_path: Path) -> None:
    install_user_data_files(tmp_path)
    result = configure(tmp_path, "http://127.0.0.1:9")  # nothing listens on the discard port
    assert result.returncode == 0, result.stderr
    assert "instance metadata unreachable" in result.stderr
    assert daemon_json(tmp_path)["log-driver"] == "local"
