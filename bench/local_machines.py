"""Benchmark: `local up` from the cached image to a Ready swarm, `local down`, and what an
idle machine costs.

Each round, for each size (managers+workers), runs what `swarmstack local up` runs, in this
process, from no cluster at all (the base image already cached) to every node Ready, in
phases:
- boot: the machines' files, overlay mounts, network and supervisors (until every one runs);
- ssh: from then until every machine's sshd answers;
- tuning: host tuning over SSH (with connecting and reading facts before it);
- formation: the swarm steps and the wait for every node Ready;
then reads each machine's memory from its cgroup after a short settle (--settle) and times
`down`. Rounds are appended as JSON lines to bench/results/local-<UTC time>.jsonl with the
core count and load average. Needs root. The figures depend on the host's load.

    sudo .venv/bin/python bench/local_machines.py                  # 3+2, 5 rounds
    sudo .venv/bin/python bench/local_machines.py --sizes 3+2,3+17 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

from swarmstack.provisioners.local import LocalCluster
from swarmstack.provisioners.local.formation import LOCAL_DEFAULTS, form_swarm
from swarmstack.provisioners.local.images import ensure_base_image
from swarmstack.spec import ClusterSpec

NAME = "bench-boot"
RESULTS = Path(__file__).parent / "results"
PHASES = ("boot", "ssh", "tuning", "formation", "up", "down")


def parse_size(text: str) -> tuple[int, int]:
    managers, _, workers = text.partition("+")
    return int(managers), int(workers)


def one_round(managers: int, workers: int, settle: float) -> dict[str, float]:
    """Seconds per phase of one `up` and `down`, and the median idle MiB per machine."""
    if LocalCluster.exists(NAME):
        LocalCluster.open(NAME).down()
    spec = ClusterSpec.model_validate(
        {**LOCAL_DEFAULTS, "name": NAME, "manager_size": managers, "cluster_size": workers}
    )
    started = time.monotonic()
    cluster = LocalCluster.up(managers, workers, name=NAME)
    machines_up = time.monotonic()
    result = form_swarm(cluster, spec)
    up = time.monotonic() - started
    if not all(n.state == "ready" for n in result.nodes):
        raise RuntimeError(f"not every node is ready: {result.nodes}")
    figures = {
        **cluster.timings,
        "tuning": result.timings.get("connect", 0.0)
        + result.timings.get("facts", 0.0)
        + result.timings.get("prepare", 0.0),
        "formation": result.timings.get("swarm", 0.0) + result.timings.get("ready", 0.0),
        "up": up,
        "python": (time.monotonic() - machines_up)
        - sum(
            result.timings.get(k, 0.0) for k in ("connect", "facts", "prepare", "swarm", "ready")
        ),
    }
    time.sleep(settle)
    memory = [row["memory_mib"] for row in cluster.status() if row["memory_mib"] is not None]
    figures["idle MiB"] = statistics.median(memory) if memory else float("nan")
    started = time.monotonic()
    cluster.down()
    figures["down"] = time.monotonic() - started
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3+2", help="comma-separated M+W")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before memory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/local_machines.py needs root", file=sys.stderr)
        return 1
    ensure_base_image(lambda message: print(message, file=sys.stderr))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = RESULTS / f"local-{stamp}.jsonl"
    table = []
    for size in args.sizes.split(","):
        managers, workers = parse_size(size)
        rounds = []
        for index in range(1, args.rounds + 1):
            load = os.getloadavg()
            figures = one_round(managers, workers, args.settle)
            record = {"size": size, "round": index, "load": load, "cores": os.cpu_count()}
            with results.open("a") as handle:
                handle.write(json.dumps({**record, **figures}) + "\n")
            shown = ", ".join(f"{k} {figures[k]:.2f}" for k in PHASES)
            print(f"   {size} round {index}: {shown}; load {load[0]:.1f}", file=sys.stderr)
            rounds.append((load[0], figures))
        table.append((size, rounds))
    columns = (*PHASES, "idle MiB")
    headers = [c if c == "idle MiB" else f"{c} s" for c in columns]
    print(f"{'size':>6} " + " ".join(f"{h:>11}" for h in headers) + f" {'load':>5}")
    for size, rounds in table:
        cells = [statistics.median(f[c] for _, f in rounds) for c in columns]
        median_load = statistics.median(round_load for round_load, _ in rounds)
        print(f"{size:>6} " + " ".join(f"{c:>11.2f}" for c in cells) + f" {median_load:>5.1f}")
    print(f"(median of {args.rounds} rounds on {os.cpu_count()} cores; load = 1-minute load "
          f"average at the start of a round; raw rounds: {results})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
