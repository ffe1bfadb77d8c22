"""`swarmstack local up -f FILE` forms the file's cluster with the file's settings.

Run as a user would: the installed command line, a copy of examples/cluster.yaml with only the
name changed (so parallel test sessions never share machines).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from swarmstack.provisioners.local import LocalCluster

from .conftest import require_root, session_cluster_name

EXAMPLE = Path(__file__).parents[2] / "examples" / "cluster.yaml"


def swarmstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("swarmstack")), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_local_up_honours_the_spec_files_name_and_settings(tmp_path: Path) -> None:
    require_root()
    name = session_cluster_name("-spec")
    text = EXAMPLE.read_text(encoding="utf-8").replace("\nname: prod ", f"\nname: {name} ")
    assert yaml.safe_load(text)["name"] == name
    spec = tmp_path / "cluster.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        up = swarmstack("-o", "json", "local", "up", "-f", str(spec), "--managers", "1",
                        "--workers", "1")  # fmt: skip
        assert up.returncode == 0, up.stderr
        data = json.loads(up.stdout)
        assert data["cluster"] == name
        assert sorted(m["role"] for m in data["machines"]) == ["manager", "worker"]
        # The cloud pool of the example file is replaced here, and the user is told.
        assert "default_addr_pool=10.128.0.0/12 lies outside 198.19.0.0/17" in up.stderr
        # managers_accept_workloads: false in the file -> the manager is drained.
        nodes = {n["hostname"]: n for n in data["swarm"]["nodes"]}
        assert nodes["ss-m1"]["availability"] == "drain"
        assert nodes["ss-w1"]["availability"] == "active"
        # enable_system_prune: true in the file -> the prune timer is installed.
        timer = swarmstack(
            "local", "ssh", "-f", str(spec), "ss-w1", "--",
            "systemctl is-enabled swarmstack-docker-prune.timer",
        )  # fmt: skip
        assert (timer.returncode, timer.stdout.strip()) == (0, "enabled"), timer.stderr
    finally:
        down = swarmstack("local", "down", "-f", str(spec))
    assert down.returncode == 0, down.stderr
    assert not LocalCluster.exists(name)
