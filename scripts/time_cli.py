"""Median wall time of whole `swarmstack` processes (README "How fast": the CLI's start-up).

    .venv/bin/python scripts/time_cli.py [ROUNDS]

Each command runs ROUNDS times (default 7) after one warm-up run; the median is printed with
the machine's core count and load, since a busy machine shifts every figure.
"""

from __future__ import annotations

import os
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
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            subprocess.run([program, *args], capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        shown = " ".join(Path(a).name if a.startswith("/") else a for a in args)
        print(f"{statistics.median(times):6.3f} s  swarmstack {shown}")


if __name__ == "__main__":
    main()
