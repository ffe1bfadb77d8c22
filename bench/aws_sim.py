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

import subprocess
import sys
import time

import boto3
from sim_rounds import (
    SWARMSTACK,
    main,
    remove_and_wait_gone,
    timed_local_down,
    wait,
    wait_all_ready,
)

from swarmstack.provisioners.local import LocalCluster, sim
from swarmstack.provisioners.local.sim.launch import sim_credentials

NAME = "bench-aws"
PHASES = ("stack", "machines", "swarm", "up", "termination", "terminated", "down")


def _running(role: str | None = None) -> list[str]:
    rows = sim.status(NAME)["instances"]
    return sorted(
        r["instance_id"]
        for r in rows
        if r["ec2_state"] == "running" and (role is None or r["role"] == role)
    )


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
    ready = wait_all_ready(cluster, manager, total)
    figures["swarm"] = ready - booted
    figures["up"] = ready - started
    if workers:
        victim = _running("worker")[0]
        endpoint = sim.status(NAME)["endpoint_url"]
        with sim_credentials():
            autoscaling = boto3.client(
                "autoscaling", region_name="us-east-1", endpoint_url=endpoint
            )
            started, gone = remove_and_wait_gone(
                cluster,
                manager,
                victim,
                lambda: autoscaling.terminate_instance_in_auto_scaling_group(
                    InstanceId=victim, ShouldDecrementDesiredCapacity=True
                ),
            )
        figures["termination"] = gone - started
        terminated = wait(lambda: victim not in _running(), "the worker's instance terminated")
        figures["terminated"] = terminated - started
    figures["down"] = timed_local_down(NAME)
    return figures


if __name__ == "__main__":
    sys.exit(main("aws-sim", __doc__.splitlines()[0], PHASES, one_round))
