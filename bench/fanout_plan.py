"""bench/fanout.py's `bootstrap-plan` tool: the real `swarmstack bootstrap --plan` (connect,
host-key check, facts, plan) against the bench's one sshd, whose sessions find stand-in
`docker`, `curl` and `cloud-init` commands first on their PATH.

The stand-ins answer the facts command (provisioners/facts.py FACTS_COMMAND) as a formed swarm
would: the first address is the leader manager (its node list holds all N nodes), every other
address a worker of that swarm with the labels swarmstack gives it, so the plan is "no
changes". Which host was dialled comes from $SSH_CONNECTION (its third field is the address the
client connected to). The answers are files written per size before each round; `curl`
answers the Engine API reads on the docker socket (GET /info, GET /nodes) from them, `docker`
the CLI fallbacks (`docker info --format`, `docker node ls -q`, `docker node inspect
--format`), `cloud-init status --wait` returns at once (a host whose cloud-init is done).

The run uses --no-tuning: the stand-in hosts have no tuning marker, and the tuning is not
what is measured.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from swarmstack.spec import ClusterSpec

_ADDRESS = "a=${SSH_CONNECTION#* * }; a=${a%% *}; d=ANSWERS/current\n"

DOCKER = (
    "#!/bin/sh\n# bench/fanout_plan.py: docker of a node of a formed swarm\n" + _ADDRESS
    + 'case "$1 $2" in\n'
    '"info --format") cat "$d/info-$a.json" ;;\n'
    '"node ls") if [ -r "$d/nodes-$a.json" ]; then cat "$d/ids"; else '
    'echo "Error response from daemon: This node is not a swarm manager." >&2; exit 1; fi ;;\n'
    '"node inspect") [ -r "$d/nodes-$a.json" ] && cat "$d/inspect" ;;\n'
    '*) echo "stand-in docker: $* is not answered" >&2; exit 1 ;;\n'
    "esac\n"
)  # fmt: skip

CURL = (
    "#!/bin/sh\n# bench/fanout_plan.py: the Engine API reads of the facts, nothing else\n"
    + _ADDRESS
    + 'case "$*" in\n'
    '*"--unix-socket /var/run/docker.sock http://localhost/info") cat "$d/info-$a.json" ;;\n'
    '*"--unix-socket /var/run/docker.sock http://localhost/nodes") '
    '[ -r "$d/nodes-$a.json" ] && cat "$d/nodes-$a.json" || exit 22 ;;\n'
    "*) exit 7 ;;\n"
    "esac\n"
)  # fmt: skip

CLOUD_INIT = "#!/bin/sh\n# bench/fanout_plan.py: cloud-init is done\necho 'status: done'\n"


def install_stand_ins(folder: Path) -> Path:
    """Write the stand-in commands; returns the folder to put first on the sessions' PATH."""
    bin_dir = folder / "stand-in-bin"
    bin_dir.mkdir(exist_ok=True)
    answers = folder / "answers"
    answers.mkdir(exist_ok=True)
    for name, text in (("docker", DOCKER), ("curl", CURL), ("cloud-init", CLOUD_INIT)):
        path = bin_dir / name
        path.write_text(text.replace("ANSWERS", str(answers)))
        path.chmod(0o755)
    return bin_dir


def write_answers(folder: Path, addresses: list[str]) -> None:
    """The formed swarm of ``addresses`` (first: leader manager), as answers/current."""
    spec = ClusterSpec.model_validate({})
    answers = folder / "answers"
    target = answers / f"swarm-{len(addresses)}"
    target.mkdir(parents=True, exist_ok=True)
    manager = addresses[0]
    nodes = [_node(i, a, spec) for i, a in enumerate(addresses)]
    cluster = {
        "ID": "benchcluster0000000000000",
        "Spec": {
            "CAConfig": {"NodeCertExpiry": spec.cert_expiry_hours * 3_600_000_000_000},
            "EncryptionConfig": {"AutoLockManagers": spec.autolock},
        },
        "DefaultAddrPool": list(spec.default_addr_pool),
        "SubnetSize": spec.default_addr_pool_mask_length,
        "DataPathPort": spec.data_path_port,
    }
    for i, address in enumerate(addresses):
        swarm: dict[str, Any] = {
            "NodeID": _node_id(i),
            "NodeAddr": address,
            "LocalNodeState": "active",
            "ControlAvailable": address == manager,
            "RemoteManagers": [{"NodeID": _node_id(0), "Addr": f"{manager}:2377"}],
        }
        if address == manager:
            swarm["Cluster"] = cluster
        info = {"ID": f"engine-{i}", "Name": _hostname(i), "ServerVersion": "27.3.1",
                "Swarm": swarm}  # fmt: skip
        (target / f"info-{address}.json").write_text(_compact(info) + "\n")
    (target / f"nodes-{manager}.json").write_text(_compact(nodes) + "\n")
    (target / "ids").write_text("".join(f"{n['ID']}\n" for n in nodes))
    # `docker node inspect --format '{{json .}}'`: the same objects, one per line.
    (target / "inspect").write_text("".join(_compact(n) + "\n" for n in nodes))
    current = answers / "current"
    current.unlink(missing_ok=True)
    current.symlink_to(target.name)


def _node_id(index: int) -> str:
    return f"benchnode{index:016d}"


def _hostname(index: int) -> str:
    return f"bench-{index:04d}"


def _node(index: int, address: str, spec: ClusterSpec) -> dict[str, Any]:
    """One node as GET /nodes lists it."""
    role = "manager" if index == 0 else "worker"
    availability = "active" if role == "worker" or spec.managers_accept_workloads else "drain"
    node: dict[str, Any] = {
        "ID": _node_id(index),
        "Description": {"Hostname": _hostname(index)},
        "Spec": {"Role": role, "Availability": availability,
                 "Labels": {"swarmstack.role": role}},
        "Status": {"State": "ready", "Addr": address},
    }  # fmt: skip
    if role == "manager":
        node["ManagerStatus"] = {"Leader": True, "Reachability": "reachable",
                                 "Addr": f"{address}:2377"}  # fmt: skip
    return node


def plan_command(
    folder: Path, addresses: list[str], known_hosts: Path, max_parallel: int
) -> list[str]:
    """`swarmstack -o json bootstrap -i INVENTORY --plan --no-tuning` for these hosts."""
    inventory = folder / f"inventory-{len(addresses)}.yaml"
    hosts = [{"address": a, "role": "manager" if i == 0 else "worker"}
             for i, a in enumerate(addresses)]  # fmt: skip
    ssh = {"user": "root", "key": str(folder / "user_ed25519"), "known_hosts": str(known_hosts),
           "connect_window": 60}  # fmt: skip
    inventory.write_text(json.dumps({"ssh": ssh, "hosts": hosts}))  # JSON is YAML
    swarmstack = Path(sys.executable).parent / "swarmstack"
    return [
        str(swarmstack), "-o", "json", "bootstrap", "-i", str(inventory), "--plan",
        "--no-tuning", "--max-parallel", str(max_parallel),
    ]  # fmt: skip


def check_no_changes(stdout: str) -> str:
    """'' when the plan is "no changes", else what it planned instead."""
    try:
        plan = json.loads(stdout)
    except ValueError:
        return f"not JSON: {stdout[-500:]}"
    if plan.get("changed") or plan.get("steps") or plan.get("prepare"):
        return f"a plan with changes: {json.dumps(plan)[:1000]}"
    return ""


def _compact(value: object) -> str:
    """JSON as docker prints it, without spaces (the facts command matches on that text)."""
    return json.dumps(value, separators=(",", ":"))
