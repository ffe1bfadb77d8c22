"""Benchmark: the AWS stack on this machine (`swarmstack local up --cloud aws`), from nothing to
a Ready swarm, and a worker's termination through its group to its node gone.

Each round:
- up: runs `swarmstack local up --cloud aws --managers M --workers W` (the cloud image already
  cached) and times it to every instance's node Ready in `docker node ls` on a manager, with
  the phases: stack (until moto's stack is created), machines (until `local up` returned: every
  instance's machine booted), swarm (until every node is Ready - the node agents form it);
- termination: `terminate-instance-in-auto-scaling-group` (decrementing) of one worker, timed
  to its node gone from `docker node ls` (the leader read the lifecycle notice, drained and
  removed the node, then completed the action) and to its EC2 instance terminated;
- down: `swarmstack local down`.
Rounds are appended as JSON lines to bench/results/aws-sim-<UTC time>.jsonl with the core count
and load average. Needs root and the `sim` extra. The figures depend on the host's load.

    sudo .venv/bin/python bench/aws_sim.py                      # 3+2, 3 rounds
    sudo .venv/bin/python bench/aws_sim.py --size 1+1 --rounds 1
"""

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
from pathlib import Path
from typing import Any

import boto3

from swarmstack.provisioners.local import LocalCluster, sim
from swarmstack.provisioners.local.images import ensure_cloud_image
from swarmstack.provisioners.local.sim.launch import sim_credentials

NAME = "bench-aws"
RESULTS = Path(__file__).parent / "results"
SWARMSTACK = Path(sys.executable).with_name("swarmstack")
PHASES = ("stack", "machines", "swarm", "up", "termination", "terminated", "down")
TIMEOUT = 600.0


def _log(message: str) -> None:
    print(f"   {message}", file=sys.stderr, flush=True)


def _wait(condition: Any, what: str, timeout: float = TIMEOUT) -> float:
    """Polls ``condition`` every 0.5 s; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _running(role: str | None = None) -> list[str]:
    rows = sim.status(NAME)["instances"]
    return sorted(
        r["instance_id"]
        for r in rows
        if r["ec2_state"] == "running" and (role is None or r["role"] == role)
    )


def _node_states(cluster: LocalCluster, manager: str) -> dict[str, str]:
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


def one_round(managers: int, workers: int) -> dict[str, float]:
    if sim.is_simulation(NAME) or LocalCluster.exists(NAME):
        sim.down(NAME)
    figures: dict[str, float] = {}
    command = [str(SWARMSTACK), "local", "up", "--cloud", "aws", "--name", NAME]
    command += ["--managers", str(managers), "--workers", str(workers)]
    started = time.monotonic()
    stack_at = None
    with subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as up:
        assert up.stderr is not None
        for line in up.stderr:
            if stack_at is None and "CREATE_COMPLETE" in line:
                stack_at = time.monotonic()
        if up.wait() != 0:
            raise RuntimeError(f"{' '.join(command)} failed (exit {up.returncode})")
    booted = time.monotonic()
    figures["stack"] = (stack_at or booted) - started
    figures["machines"] = booted - (stack_at or started)
    cluster = LocalCluster.open(NAME)
    total = managers + workers
    manager = _running("manager")[0]

    def all_ready() -> bool:
        states = _node_states(cluster, manager)
        return len(states) == total and all(s == "ready" for s in states.values())

    ready = _wait(all_ready, f"{total} Ready nodes")
    figures["swarm"] = ready - booted
    figures["up"] = ready - started
    if workers:
        victim = _running("worker")[0]
        # Every node labelled: the leader knows which node is the victim's.
        _wait(lambda: victim in _node_states(cluster, manager), "the worker's node labelled")
        endpoint = sim.status(NAME)["endpoint_url"]
        with sim_credentials():
            autoscaling = boto3.client(
                "autoscaling", region_name="us-east-1", endpoint_url=endpoint
            )
            started = time.monotonic()
            autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=victim, ShouldDecrementDesiredCapacity=True
            )
        gone = _wait(
            lambda: (states := _node_states(cluster, manager)) != {} and victim not in states,
            "the worker's node gone",
        )
        figures["termination"] = gone - started
        terminated = _wait(lambda: victim not in _running(), "the worker's instance terminated")
        figures["terminated"] = terminated - started
    started = time.monotonic()
    subprocess.run(
        [str(SWARMSTACK), "local", "down", "--name", NAME], check=True, capture_output=True
    )
    figures["down"] = time.monotonic() - started
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="3+2", help="managers+workers")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/aws_sim.py needs root", file=sys.stderr)
        return 1
    managers, _, workers = args.size.partition("+")
    ensure_cloud_image(lambda message: print(message, file=sys.stderr))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = RESULTS / f"aws-sim-{stamp}.jsonl"
    rounds = []
    for index in range(1, args.rounds + 1):
        load = os.getloadavg()
        figures = one_round(int(managers), int(workers))
        record = {"size": args.size, "round": index, "load": load, "cores": os.cpu_count()}
        with results.open("a") as handle:
            handle.write(json.dumps({**record, **figures}) + "\n")
        shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
        _log(f"{args.size} round {index}: {shown}; load {load[0]:.1f}")
        rounds.append((load[0], figures))
    columns = [c for c in PHASES if all(c in f for _, f in rounds)]
    print(f"{'size':>6} " + " ".join(f"{c + ' s':>13}" for c in columns) + f" {'load':>5}")
    cells = [statistics.median(f[c] for _, f in rounds) for c in columns]
    median_load = statistics.median(round_load for round_load, _ in rounds)
    print(f"{args.size:>6} " + " ".join(f"{c:>13.1f}" for c in cells) + f" {median_load:>5.1f}")
    print(f"(median of {args.rounds} rounds on {os.cpu_count()} cores; load = 1-minute load "
          f"average at the start of a round; raw rounds: {results})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
