"""Benchmark: how fast the local machines boot, and what an idle one costs.

For each size (managers+workers) it creates a fresh local cluster, times `LocalCluster.up`
from nothing to every machine answering SSH (the base image already cached), reads each
machine's memory from its cgroup after a short settle, times `down`, and prints a table.
Needs root. The numbers depend on the host's load: report them with the command and host.

    sudo .venv/bin/python bench/local_machines.py                  # 3+2, 3+9, 3+17
    sudo .venv/bin/python bench/local_machines.py --sizes 3+2 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from swarmstack.provisioners.local import LocalCluster
from swarmstack.provisioners.local.images import ensure_base_image

NAME = "bench-boot"
SETTLE_SECONDS = 5.0


def parse_size(text: str) -> tuple[int, int]:
    managers, _, workers = text.partition("+")
    return int(managers), int(workers)


def one_round(managers: int, workers: int) -> tuple[float, float, float]:
    """(seconds to SSH for all, median idle MiB per machine, seconds to tear down)."""
    if LocalCluster.exists(NAME):
        LocalCluster.open(NAME).down()
    started = time.monotonic()
    cluster = LocalCluster.up(managers, workers, name=NAME)
    boot = time.monotonic() - started
    time.sleep(SETTLE_SECONDS)
    memory = [row["memory_mib"] for row in cluster.status() if row["memory_mib"] is not None]
    started = time.monotonic()
    cluster.down()
    return boot, statistics.median(memory) if memory else float("nan"), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3+2,3+9,3+17", help="comma-separated M+W")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/local_machines.py needs root", file=sys.stderr)
        return 1
    ensure_base_image(lambda message: print(message, file=sys.stderr))
    print(f"{'size':>6} {'machines':>8} {'boot to SSH s':>14} {'idle MiB/machine':>17} "
          f"{'down s':>7}")  # fmt: skip
    for size in args.sizes.split(","):
        managers, workers = parse_size(size)
        rounds = [one_round(managers, workers) for _ in range(args.rounds)]
        boot = statistics.median(r[0] for r in rounds)
        memory = statistics.median(r[1] for r in rounds)
        down = statistics.median(r[2] for r in rounds)
        print(f"{size:>6} {managers + workers:>8} {boot:>14.1f} {memory:>17.0f} {down:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
