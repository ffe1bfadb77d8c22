"""What the simulation benchmarks (aws_sim.py, azure_sim.py) share: waiting, reading the
swarm's nodes on a machine, and running, recording and reporting rounds."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmstack.provisioners.local import LocalCluster
from swarmstack.provisioners.local.images import ensure_cloud_image

RESULTS = Path(__file__).parent / "results"
SWARMSTACK = Path(sys.executable).with_name("swarmstack")
TIMEOUT = 600.0
OneRound = Callable[[int, int], dict[str, float]]


def log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


def wait(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> float:
    """Polls ``condition`` every 0.5 s; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def node_states(cluster: LocalCluster, manager: str) -> dict[str, str]:
    """instance id label (or node id) -> node state, in a manager's view; {} if it fails."""
    command = (
        "docker node inspect --format "
        "'{{.ID}} {{index .Spec.Labels \"swarmstack.instance-id\"}} {{.Status.State}}' "
        "$(docker node ls -q)"
    )
    result = cluster.ssh(manager, f"sudo sh -c {shlex.quote(command)}", check=False, timeout=30)
    if result.returncode != 0:
        return {}
    states = {}
    for line in result.stdout.splitlines():
        node, _, rest = line.partition(" ")
        label, _, state = rest.rpartition(" ")
        states[label or node] = state
    return states


def wait_all_ready(cluster: LocalCluster, manager: str, total: int) -> float:
    """Until ``manager`` sees ``total`` nodes, every one Ready; the time it first did."""

    def all_ready() -> bool:
        states = node_states(cluster, manager)
        return len(states) == total and all(s == "ready" for s in states.values())

    return wait(all_ready, f"{total} Ready nodes")


def remove_and_wait_gone(
    cluster: LocalCluster, manager: str, victim: str, remove: Callable[[], object]
) -> tuple[float, float]:
    """Once the leader labelled the victim's node (it then knows which node is the
    instance's), ``remove()`` the instance through the cloud and wait until its node is gone
    from ``manager``'s view; returns (when removed, when gone)."""
    wait(lambda: victim in node_states(cluster, manager), "the worker's node labelled")
    started = time.monotonic()
    remove()
    gone = wait(
        lambda: (states := node_states(cluster, manager)) != {} and victim not in states,
        "the worker's node gone",
    )
    return started, gone


def timed_local_up(cloud: str, name: str, managers: int, workers: int) -> float:
    """Runs `swarmstack local up --cloud CLOUD`; the seconds it took (machines booted)."""
    command = [str(SWARMSTACK), "local", "up", "--cloud", cloud, "--name", name]
    command += ["--managers", str(managers), "--workers", str(workers)]
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def timed_local_down(name: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [str(SWARMSTACK), "local", "down", "--name", name], check=True, capture_output=True
    )
    return time.monotonic() - started


def main(
    kind: str, description: str, phases: tuple[str, ...], one_round: OneRound, argv: Any = None
) -> int:
    """Parses --size/--rounds, runs the rounds, appends each to bench/results/KIND-<time>.jsonl
    with the core count and load, and prints the medians."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", default="3+2", help="managers+workers")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(f"bench/{kind.replace('-', '_')}.py needs root", file=sys.stderr)
        return 1
    managers, _, workers = args.size.partition("+")
    ensure_cloud_image(lambda message: print(message, file=sys.stderr))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = RESULTS / f"{kind}-{stamp}.jsonl"
    rounds = []
    for index in range(1, args.rounds + 1):
        load = os.getloadavg()
        figures = one_round(int(managers), int(workers))
        record = {"size": args.size, "round": index, "load": load, "cores": os.cpu_count()}
        with results.open("a") as handle:
            handle.write(json.dumps({**record, **figures}) + "\n")
        shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
        log(f"{args.size} round {index}: {shown}; load {load[0]:.1f}")
        rounds.append((load[0], figures))
    columns = [c for c in phases if all(c in f for _, f in rounds)]
    print(f"{'size':>6} " + " ".join(f"{c + ' s':>13}" for c in columns) + f" {'load':>5}")
    cells = [statistics.median(f[c] for _, f in rounds) for c in columns]
    median_load = statistics.median(round_load for round_load, _ in rounds)
    print(f"{args.size:>6} " + " ".join(f"{c:>13.1f}" for c in cells) + f" {median_load:>5.1f}")
    print(f"(median of {args.rounds} rounds on {os.cpu_count()} cores; load = 1-minute load "
          f"average at the start of a round; raw rounds: {results})")  # fmt: skip
    return 0
