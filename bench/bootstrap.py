"""Benchmark: swarm formation over SSH on the local machines, against docker's own floor.

For each size (managers+workers) it boots local machines once, then repeatedly:
- resets the swarm (every node leaves), runs converge() and times it from "hosts reachable"
  (SSH not yet connected) to "every node Ready", with its phases and the controller's CPU time;
- resets again and measures docker's floor: `docker swarm init`, the manager joins one after
  another and all worker joins at once, each timed on the host itself; the floor is
  init + the manager joins + the slowest worker join (the critical path of docker's commands).

Host tuning is excluded (it is first-boot work, not swarm formation). Needs root.

    sudo .venv/bin/python bench/bootstrap.py                 # 3+2, 3+9, 3+17, 3 rounds each
    sudo .venv/bin/python bench/bootstrap.py --sizes 3+2 --rounds 5 --keep
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import sys
import time
from dataclasses import dataclass, field

from swarmstack.provisioners.bootstrap import converge
from swarmstack.provisioners.inventory import Inventory, inventory_from_data
from swarmstack.provisioners.local import (
    SWARM_DEFAULT_ADDR_POOL,
    SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    LocalCluster,
)
from swarmstack.provisioners.ssh import Connection, Connector
from swarmstack.spec import ClusterSpec

SPEC = ClusterSpec.model_validate(
    {
        "default_addr_pool": [SWARM_DEFAULT_ADDR_POOL],
        "default_addr_pool_mask_length": SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    }
)
# Run a command and print how long it took on the host, in microseconds.
TIMED = (
    "s=$(date +%s%N); {command} >/dev/null; rc=$?; e=$(date +%s%N); "
    "echo $(( (e - s) / 1000 )); exit $rc"
)


# Leave, and make sure of it (a leave can fail while the daemon is still busy).
LEAVE = (
    "for i in 1 2 3 4 5 6 7 8 9 10; do timeout 10 docker swarm leave --force >/dev/null 2>&1 "
    "|| systemctl restart docker; "
    "[ \"$(docker info --format '{{.Swarm.LocalNodeState}}')\" = inactive ] && exit 0; "
    "sleep 0.5; done; exit 1"
)


@dataclass
class Round:
    wall: float
    cpu: float
    phases: dict[str, float]
    floor: float
    floor_parts: dict[str, float] = field(default_factory=dict)


def parse_size(text: str) -> tuple[int, int]:
    managers, _, workers = text.partition("+")
    return int(managers), int(workers)


def connections(inventory: Inventory) -> dict[str, Connection]:
    connector = Connector(inventory.ssh)
    with cf.ThreadPoolExecutor(32) as pool:
        conns = list(pool.map(lambda h: connector.connect(h.address), inventory.hosts))
    return {c.address: c for c in conns}


def reset(conns: dict[str, Connection]) -> None:
    """Every node leaves its swarm (a clean slate for the next round)."""
    with cf.ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda c: c.run(LEAVE), conns.values()))


def timed(conn: Connection, command: str, stdin: str | None = None) -> float:
    out = conn.run(TIMED.format(command=command), stdin=stdin).stdout
    return int(out.strip().splitlines()[-1]) / 1e6


def docker_floor(
    inventory: Inventory, conns: dict[str, Connection]
) -> tuple[float, dict[str, float]]:
    managers = [conns[h.address] for h in inventory.managers]
    workers = [conns[h.address] for h in inventory.workers]
    first = inventory.managers[0].address
    init = timed(
        managers[0],
        f"docker swarm init --advertise-addr {first} --default-addr-pool {SWARM_DEFAULT_ADDR_POOL}"
        f" --default-addr-pool-mask-length {SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH}",
    )
    manager_token = managers[0].run("docker swarm join-token -q manager", secret_output=True).stdout
    worker_token = managers[0].run("docker swarm join-token -q worker", secret_output=True).stdout
    join = 'read -r t && docker swarm join --token "$t" ' + f"{first}:2377"
    manager_joins = [timed(m, join, stdin=manager_token) for m in managers[1:]]
    with cf.ThreadPoolExecutor(32) as pool:
        worker_joins = list(pool.map(lambda w: timed(w, join, stdin=worker_token), workers))
    slowest = max(worker_joins, default=0.0)
    parts = {"init": init, "manager joins": sum(manager_joins), "slowest worker join": slowest}
    return init + sum(manager_joins) + slowest, parts


def one_round(inventory: Inventory, conns: dict[str, Connection]) -> Round:
    reset(conns)
    cpu0, wall0 = time.process_time(), time.monotonic()
    result = converge(SPEC, inventory, apply_host_tuning=False, local_machine=True)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    assert all(n.state == "ready" for n in result.nodes), result.nodes
    reset(conns)
    floor, parts = docker_floor(inventory, conns)
    return Round(wall, cpu, result.timings, floor, parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="3+2,3+9,3+17", help="managers+workers, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first, not counted")
    parser.add_argument("--name", default="bench", help="local cluster name")
    parser.add_argument("--keep", action="store_true", help="leave the machines running")
    args = parser.parse_args()
    rows = []
    cluster = None
    try:
        for size in args.sizes.split(","):
            managers, workers = parse_size(size)
            print(f"== {managers}+{workers}: booting machines", file=sys.stderr, flush=True)
            cluster = LocalCluster.up(managers, workers, name=args.name)
            inventory = inventory_from_data(cluster.inventory(), base=cluster.dir)
            conns = connections(inventory)
            # Freshly booted machines are still starting services: one round not counted.
            for _ in range(args.warmup):
                one_round(inventory, conns)
            rounds = []
            for index in range(args.rounds):
                r = one_round(inventory, conns)
                print(
                    f"   round {index + 1}: swarmstack {r.wall:.2f}s (cpu {r.cpu:.2f}s), "
                    f"docker floor {r.floor:.2f}s",
                    file=sys.stderr,
                    flush=True,
                )
                rounds.append(r)
            reset(conns)
            for conn in conns.values():
                conn.close()
            rows.append((f"{managers}+{workers}", rounds))
    finally:
        if cluster is not None and not args.keep:
            cluster.down()
    print_table(rows)
    return 0


def print_table(rows: list[tuple[str, list[Round]]]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    header = (
        "size", "swarmstack s", "docker floor s", "ratio", "best ratio", "connect+facts s",
        "swarm steps s", "ready poll s", "controller CPU s",
    )  # fmt: skip
    lines = [header]
    for size, rounds in rows:
        wall, floor = med([r.wall for r in rounds]), med([r.floor for r in rounds])
        lines.append(
            (
                size,
                f"{wall:.2f}",
                f"{floor:.2f}",
                f"{wall / floor:.2f}x",
                f"{min(r.wall for r in rounds) / min(r.floor for r in rounds):.2f}x",
                f"{med([r.phases.get('facts', 0) for r in rounds]):.2f}",
                f"{med([r.phases.get('swarm', 0) for r in rounds]):.2f}",
                f"{med([r.phases.get('ready', 0) for r in rounds]):.2f}",
                f"{med([r.cpu for r in rounds]):.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    print(f"(median of {len(rows[0][1]) if rows else 0} rounds, best ratio = fastest swarmstack "
          "round / fastest floor; floor = init + manager joins + slowest worker join, each timed "
          "on the host)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
