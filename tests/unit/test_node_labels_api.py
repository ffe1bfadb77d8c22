"""Node labels through the Docker Engine API, run by a real shell against a stand-in daemon.

The update-many and update steps read each node (GET /nodes/NODE: its id, version and spec)
and write its spec back with the version they read (POST /nodes/ID/update?version=N). The
stand-in `curl` keeps the nodes as the daemon would and refuses a write with a stale version
("update out of sequence"), as swarmkit does when the managers changed the node in between.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from swarmstack.provisioners.commands import step_commands
from swarmstack.provisioners.swarm import Step

ANCHOR = "198.18.0.11"

# The stand-in daemon: one JSON file per node in $NODES; a node's "races" is how many more
# reads are each followed by a change of the node by the managers (its version moves on).
STAND_IN_CURL = r"""
import fcntl, json, os, re, sys
from pathlib import Path

nodes = Path(os.environ["NODES"])
lock = open(nodes / "lock", "w")
fcntl.flock(lock, fcntl.LOCK_EX)  # one request at a time, as the managers' store would
args = sys.argv[1:]
url = args[-1]
body = sys.stdin.read() if "--data-binary" in args else None
with open(nodes / "calls", "a") as log:
    log.write(url + "\n")


def find(ref):
    for path in nodes.glob("*.json"):
        node = json.loads(path.read_text())
        if ref in (node["ID"], node["Spec"].get("Name"), node.get("Hostname")):
            if node.get("unknown_reads", 0) and ref != node["ID"]:
                node["unknown_reads"] -= 1
                path.write_text(json.dumps(node))
                return None, None
            return path, node
    return None, None


def answer(text, status):
    sys.stdout.write(text + " " + str(status))
    sys.exit(0)


m = re.fullmatch(r"http://localhost/nodes/([^/?]+)(?:/update\?version=(\d+))?", url)
if not m:
    answer('{"message":"page not found"}', 404)
path, node = find(m.group(1))
if node is None:
    answer(json.dumps({"message": "node " + m.group(1) + " not found"}), 404)
if m.group(2) is None:  # GET
    shown = {
        "ID": node["ID"],
        "Version": {"Index": node["version"]},
        "CreatedAt": "2026-12-01T00:00:00Z",
        "UpdatedAt": "2026-12-01T00:00:01Z",
        "Spec": node["Spec"],
        "Description": {"Hostname": node["Hostname"], "Engine": {"Labels": {"engine": "x"}}},
        "Status": {"State": "ready", "Addr": "198.18.0.20"},
    }
    text = json.dumps(shown, separators=(",", ":")) + "\n"
    if node.get("races", 0):
        node["races"] -= 1
        node["version"] += 1
    path.write_text(json.dumps(node))
    answer(text, 200)
if int(m.group(2)) != node["version"]:
    answer('{"message":"rpc error: code = Unknown desc = update out of sequence"}', 500)
spec = json.loads(body)  # a later member wins, as in the daemon's decoding
node["Spec"] = spec
node["version"] += 1
node["writes"] = node.get("writes", 0) + 1
path.write_text(json.dumps(node))
answer("", 200)
"""


def stand_in_daemon(tmp_path: Path, nodes: list[dict[str, Any]]) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(f"#!{sys.executable}\n{STAND_IN_CURL}")
    curl.chmod(0o755)
    sleep = bin_dir / "sleep"  # the retries' pauses cost no time here
    sleep.write_text("#!/bin/sh\nexit 0\n")
    sleep.chmod(0o755)
    folder = tmp_path / "nodes"
    folder.mkdir()
    for node in nodes:
        (folder / f"{node['ID']}.json").write_text(json.dumps(node))
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NODES": str(folder)}


def node(node_id: str, hostname: str, **extra: Any) -> dict[str, Any]:
    spec = extra.pop("spec", {"Labels": {}, "Role": "worker", "Availability": "active"})
    return {"ID": node_id, "Hostname": hostname, "version": 10, "Spec": spec, **extra}


def nodes_after(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    folder = Path(env["NODES"])
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def run(command: str, env: dict[str, str], shell: str = "sh") -> subprocess.CompletedProcess[str]:
    sh = shutil.which(shell)
    assert sh is not None
    return subprocess.run(
        [sh, "-c", command], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def update_many(updates: list[dict[str, Any]]) -> str:
    step = Step("update-many:workers", "update-many", ANCHOR, "workers", {"updates": updates})
    (command,) = step_commands(step)
    return command.run


def worker_labels(name: str, zone: str = "") -> dict[str, Any]:
    labels = {"swarmstack.role": "worker", **({"swarmstack.zone": zone} if zone else {})}
    return {"address": "", "node": name, "labels_add": labels, "labels_rm": []}


@pytest.mark.parametrize("shell", ["sh", "bash"])  # sudo's `sh -c`, or a root login shell
def test_labels_are_merged_into_the_nodes_own_and_written_with_its_version(
    tmp_path: Path, shell: str
) -> None:
    env = stand_in_daemon(
        tmp_path,
        [
            node("id1", "w1", spec={"Name": "keep", "Labels": {"team": "a", "x": "y"},
                                    "Role": "worker", "Availability": "pause"}),
            node("id2", "w2", spec={"Labels": None, "Role": "worker", "Availability": "active"}),
            node("id3", "w3", spec={"Labels": {"swarmstack.role": "manager"}, "Role": "worker",
                                    "Availability": "active"}),
        ],
    )  # fmt: skip
    command = update_many(
        [worker_labels("w1", "z1"), worker_labels("id2"), worker_labels("w3", 'a "b"')]
    )
    assert "docker node update" not in command
    done = run(command, env, shell)
    assert done.returncode == 0, done.stderr
    after = nodes_after(env)
    assert after["id1"]["Spec"] == {
        "Name": "keep",
        "Labels": {"team": "a", "x": "y", "swarmstack.role": "worker", "swarmstack.zone": "z1"},
        "Role": "worker",
        "Availability": "pause",
    }
    assert after["id2"]["Spec"]["Labels"] == {"swarmstack.role": "worker"}
    assert after["id3"]["Spec"]["Labels"] == {
        "swarmstack.role": "worker",
        "swarmstack.zone": 'a "b"',
    }
    assert all(n["writes"] == 1 for n in after.values())


def test_a_version_conflict_is_read_and_written_again(tmp_path: Path) -> None:
    """The managers change a node right after it joins: the write with the version read
    before that fails, and a fresh read succeeds."""
    env = stand_in_daemon(tmp_path, [node(f"id{i}", f"w{i}", races=3) for i in range(8)])
    done = run(update_many([worker_labels(f"w{i}") for i in range(8)]), env)
    assert done.returncode == 0, done.stderr
    for n in nodes_after(env).values():
        assert n["Spec"]["Labels"] == {"swarmstack.role": "worker"}
        assert n["writes"] == 1
        assert n["version"] == 10 + 3 + 1  # three races lost, then written once
    calls = (Path(env["NODES"]) / "calls").read_text().splitlines()
    assert sum("/update?version=" in c for c in calls) == 8 * 4


def test_a_node_not_known_by_its_hostname_yet_is_read_again(tmp_path: Path) -> None:
    env = stand_in_daemon(tmp_path, [node("id1", "w1", unknown_reads=2)])
    done = run(update_many([worker_labels("w1"), worker_labels("id1")]), env)
    assert done.returncode == 0, done.stderr
    assert nodes_after(env)["id1"]["Spec"]["Labels"] == {"swarmstack.role": "worker"}


def test_availability_is_replaced_and_the_role_kept(tmp_path: Path) -> None:
    manager = {"Labels": {}, "Role": "manager", "Availability": "active"}
    env = stand_in_daemon(tmp_path, [node("id1", "m1", spec=manager)])
    step = Step(
        "update:m1", "update", ANCHOR, ANCHOR,
        {"node": "m1", "address": ANCHOR, "labels_add": {}, "labels_rm": [],
         "availability": "drain"},
    )  # fmt: skip
    (command,) = step_commands(step)
    done = run(command.run, env)
    assert done.returncode == 0, done.stderr
    assert nodes_after(env)["id1"]["Spec"] == {
        "Labels": {},
        "Role": "manager",
        "Availability": "drain",
    }


def test_a_spec_the_shell_cannot_cut_is_not_written(tmp_path: Path) -> None:
    """A label value holding "}" would make the cut labels wrong: the update fails instead."""
    spec = {"Labels": {"odd": "a}b"}, "Role": "worker", "Availability": "active"}
    env = stand_in_daemon(tmp_path, [node("id1", "w1", spec=spec)])
    failed = run(update_many([worker_labels("w1")]), env)
    assert failed.returncode == 1
    assert "node w1: its spec could not be read from the Docker API" in failed.stderr
    assert "writes" not in nodes_after(env)["id1"]


def test_any_other_error_fails_with_the_daemons_message(tmp_path: Path) -> None:
    env = stand_in_daemon(tmp_path, [node("id1", "w1")])
    failed = run(update_many([worker_labels("nope")]), env)
    # A node not found is retried (50 reads), then the daemon's message is shown.
    assert failed.returncode == 1
    assert failed.stderr.strip() == '{"message": "node nope not found"}'


def test_removing_a_label_keeps_the_clis_read_modify_write() -> None:
    update = {**worker_labels("w1"), "labels_rm": ["swarmstack.zone"]}
    command = update_many([update, worker_labels("w2")])
    cli = "docker node update --label-add swarmstack.role=worker --label-rm swarmstack.zone w1"
    assert cli in command
    assert "swarmstack_node_update w2 " in command
