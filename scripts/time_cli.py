"""Median wall time of whole `swarmstack` processes (README "How fast": the CLI's start-up).

    .venv/bin/python scripts/time_cli.py [ROUNDS]

Each command runs ROUNDS times (default 7) after one warm-up run; the medians of wall time and
of the process's CPU time (user + system) are printed with the machine's core count and load:
on a busy machine the wall time grows with the load, the CPU time much less.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ["--version"],
    ["--help"],
    ["aws", "template", "--out", os.devnull],
    ["spec", "validate", str(ROOT / "examples" / "cluster.yaml")],
)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    program = shutil.which("swarmstack", path=str(Path(sys.executable).parent)) or "swarmstack"
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, median of {rounds} runs")
    for args in COMMANDS:
        subprocess.run([program, *args], capture_output=True, check=True)  # warm the caches
        walls, cpus = [], []
        for _ in range(rounds):
            before = _children_cpu()
            started = time.perf_counter()
            subprocess.run([program, *args], capture_output=True, check=True)
            walls.append(time.perf_counter() - started)
            cpus.append(_children_cpu() - before)
        shown = " ".join(Path(a).name if a.startswith("/") else a for a in args)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(f"{wall:6.3f} s wall {cpu:6.3f} s CPU  swarmstack {shown}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
