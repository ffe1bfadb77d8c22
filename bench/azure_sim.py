"""Benchmark: the Azure deployment on this machine (`swarmstack local up --cloud azure`), from
nothing to a Ready swarm, and a worker instance's deletion to its node gone.

Each round:
- up: runs `swarmstack local up --cloud azure --managers M --workers W` (the cloud image
  already cached: a plain template deployment of `swarmstack azure template`'s output on the
  simulated Azure) and times it to every instance's node Ready in `docker node ls` on a
  manager, with the phases: machines (until `local up` returned: every instance's machine
  booted) and swarm (until every node is Ready - the node agents form it);
- termination: one worker instance deleted through the Azure SDK (`az vmss delete-instances`),
  timed to its node gone from `docker node ls` (the leader saw the Terminate event, drained and
  removed the node, then approved the event) and to the instance gone from the scale set;
- down: `swarmstack local down`.
Rounds are appended as JSON lines to bench/results/azure-sim-<UTC time>.jsonl with the core
count and load average. Needs root. The figures depend on the host's load.

    sudo .venv/bin/python bench/azure_sim.py                      # 3+2, 3 rounds
    sudo .venv/bin/python bench/azure_sim.py --size 1+1 --rounds 1
"""

from __future__ import annotations

import sys
import time

from sim_rounds import (
    main,
    remove_and_wait_gone,
    timed_local_down,
    timed_local_up,
    wait,
    wait_all_ready,
)

from swarmstack.provisioners.local import LocalCluster, sim
from swarmstack.provisioners.local.sim.azure import local as azure_sim
from swarmstack.provisioners.local.sim.azure.control import running_urls
from swarmstack.provisioners.local.sim.control import SimFiles

NAME = "bench-azure"
PHASES = ("machines", "swarm", "up", "termination", "deleted", "down")


def _in_service(role: str) -> list[tuple[str, str]]:
    """(machine name, instance id) of the role's instances in service."""
    rows = azure_sim.status(NAME)["instances"]
    return sorted(
        (str(r["hostname"]), str(r["instance_id"]))
        for r in rows
        if r["vm_state"] == "Succeeded" and r["machine"] == "running" and r["role"] == role
    )


def _delete_instance(instance_id: str) -> None:
    """`az vmss delete-instances` for SCALESET_N through the SDK, waiting for the answer."""
    scale_set, number = instance_id.rsplit("_", 1)
    group = scale_set.rsplit("-", 1)[0]  # scale sets are GROUP-managers and GROUP-workers
    urls = running_urls(SimFiles.of(NAME))
    if urls is None:
        raise RuntimeError(f"the simulated Azure of {NAME} is not running")
    with azure_sim.sim_clients(urls) as clients:
        clients.compute.virtual_machine_scale_sets.begin_delete_instances(
            group, scale_set, {"instanceIds": [number]}
        ).result()


def one_round(managers: int, workers: int) -> dict[str, float]:
    if sim.is_simulation(NAME) or LocalCluster.exists(NAME):
        sim.down(NAME)
    figures: dict[str, float] = {}
    started = time.monotonic()
    figures["machines"] = timed_local_up("azure", NAME, managers, workers)
    booted = time.monotonic()
    cluster = LocalCluster.open(NAME)
    total = managers + workers
    manager = _in_service("manager")[0][0]
    ready = wait_all_ready(cluster, manager, total)
    figures["swarm"] = ready - booted
    figures["up"] = ready - started
    if workers:
        machine, victim = _in_service("worker")[0]
        started, gone = remove_and_wait_gone(
            cluster, manager, victim, lambda: _delete_instance(victim)
        )
        figures["termination"] = gone - started
        deleted = wait(
            lambda: machine not in {m for m, _ in _in_service("worker")},
            "the worker's instance deleted",
        )
        figures["deleted"] = deleted - started
    figures["down"] = timed_local_down(NAME)
    return figures


if __name__ == "__main__":
    sys.exit(main("azure-sim", __doc__.splitlines()[0], PHASES, one_round))
