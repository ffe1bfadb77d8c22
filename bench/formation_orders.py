"""A/B of formation orders: the planner's order against variants of it, on the same machines.

Each round resets the swarm and forms it with one variant, the variants alternating (and their
order reversed every other round, so none always runs first); optionally docker's floor as in
bench/bootstrap.py. The variants rewrite the plan the planner returns (its dependencies only;
the steps and their commands are unchanged):

- ``now``: the planner's order (labels right after each node's join);
- ``workers-after-m2``: the workers join only after the second manager's join;
- ``labels-held``: every worker's label waits for the last manager's join too;
- ``labels-batched``: every worker's label in one update-many step after the last worker join;
- ``ssh-nagle``: the planner's order over SSH connections as they were before TCP_NODELAY and
  TCP_QUICKACK (paramiko's own socket: Nagle on, delayed ACKs);
- ``labels-one-by-one``: the planner's order with every label update its own command, as before
  the executor coalesced the updates that queue up on the leader (provisioners/coalesce.py).

Every label retry (a version race, "update out of sequence", or a node not known yet) is counted
on the first manager. Rounds are kept as JSON lines in bench/results/orders-<size>-<UTC>.jsonl.
Needs root.

    sudo .venv/bin/python bench/formation_orders.py --size 3+17 --rounds 4 \\
        --variants now,labels-held,labels-batched
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import statistics
import sys
from collections.abc import Callable, Mapping
from typing import TypeVar

from bootstrap import (
    RESULTS,
    Hosts,
    Measure,
    Round,
    describe,
    one_round,
    parse_size,
    reset,
)
from ssh_acks import paramiko_socket

import swarmstack.provisioners.bootstrap as executor
from swarmstack.provisioners import commands, ssh
from swarmstack.provisioners.coalesce import Coalescer
from swarmstack.provisioners.facts import HostFacts
from swarmstack.provisioners.inventory import Inventory, inventory_from_data
from swarmstack.provisioners.local import LocalCluster
from swarmstack.provisioners.swarm import Plan, Step
from swarmstack.provisioners.swarm import plan_swarm as planned_by_swarmstack
from swarmstack.spec import ClusterSpec

T = TypeVar("T")
RETRIES = "/tmp/swarmstack-bench-label-retries"  # noqa: S108 - on the machine, bench only


def joins(plan: Plan, role: str) -> list[Step]:
    return [s for s in plan.steps if s.action == "join" and s.args.get("role") == role]


def workers_after_m2(plan: Plan) -> Plan:
    managers = joins(plan, "manager")
    if not managers:
        return plan
    gate = managers[0].id
    workers = {s.id for s in joins(plan, "worker")}
    return dataclasses.replace(
        plan,
        steps=tuple(
            dataclasses.replace(
                s, after=tuple(gate if a.startswith("init:") else a for a in s.after)
            )
            if s.id in workers
            else s
            for s in plan.steps
        ),
    )


def worker_labels(plan: Plan) -> list[Step]:
    workers = {s.id for s in joins(plan, "worker")}
    return [s for s in plan.steps if s.action == "update" and s.after and s.after[0] in workers]


def labels_held(plan: Plan) -> Plan:
    managers = joins(plan, "manager")
    if not managers:
        return plan
    held = {s.id for s in worker_labels(plan)}
    last = managers[-1].id
    return dataclasses.replace(
        plan,
        steps=tuple(
            dataclasses.replace(s, after=(*s.after, last)) if s.id in held else s
            for s in plan.steps
        ),
    )


def labels_batched(plan: Plan) -> Plan:
    labels = worker_labels(plan)
    if not labels:
        return plan
    ids = {s.id for s in labels}
    batch = Step(
        "update-many:workers",
        "update-many",
        labels[0].host,
        "workers",
        {"updates": [s.args for s in labels]},
        tuple(s.id for s in joins(plan, "worker")),
    )
    return dataclasses.replace(plan, steps=(*(s for s in plan.steps if s.id not in ids), batch))


VARIANTS: dict[str, Callable[[Plan], Plan]] = {
    "now": lambda plan: plan,
    "workers-after-m2": workers_after_m2,
    "labels-held": labels_held,
    "labels-batched": labels_batched,
    "ssh-nagle": lambda plan: plan,
    "labels-one-by-one": lambda plan: plan,
}


class OneByOne(Coalescer[T]):
    """Every item runs alone, at once (the labels-one-by-one variant)."""

    def submit(self, item: T) -> None:
        self._run([item])


FAST_SOCKET = ssh._open_socket


def count_retries() -> None:
    """Make the label function append a line to RETRIES on the host at every retry."""
    function = commands._NODE_UPDATE_FUNCTION
    for marker in ('*"update out of sequence"*) ', '*" 404") '):
        function = function.replace(marker, f"{marker}echo retry >> {RETRIES}; ", 1)
    if function.count(RETRIES) != 2:
        raise SystemExit("bench/formation_orders.py: the label function changed; update me")
    commands._NODE_UPDATE_FUNCTION = function


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="3+17", help="managers+workers")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per variant")
    parser.add_argument("--variants", default="now,labels-held,labels-batched")
    parser.add_argument("--floor", action="store_true", help="also time docker's floor")
    parser.add_argument("--name", default="orders", help="local cluster name")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    count_retries()
    chosen = ["now"]

    def plan_swarm(spec: ClusterSpec, inventory: Inventory, facts: Mapping[str, HostFacts]) -> Plan:
        return VARIANTS[chosen[0]](planned_by_swarmstack(spec, inventory, facts))

    setattr(executor, "plan_swarm", plan_swarm)  # noqa: B010 - the executor's name for it
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = RESULTS / f"orders-{args.size}-{stamp}.jsonl"
    managers, workers = parse_size(args.size)
    cluster = LocalCluster.up(managers, workers, name=args.name)
    walls: dict[str, list[float]] = {v: [] for v in variants}
    try:
        inventory = inventory_from_data(cluster.inventory(), base=cluster.dir)
        conns = Hosts(inventory)
        hostnames = {h["address"]: h["hostname"] for h in cluster.inventory()["hosts"]}
        measure = Measure(args.floor, None, cluster.dir, hostnames)
        anchor = conns[inventory.managers[0].address]
        for index in range(args.rounds + 1):  # round 0 warms up
            for variant in variants if index % 2 else variants[::-1]:
                chosen[0] = variant
                ssh._open_socket = paramiko_socket if variant == "ssh-nagle" else FAST_SOCKET
                one_by_one = variant == "labels-one-by-one"
                setattr(executor, "Coalescer", OneByOne if one_by_one else Coalescer)  # noqa: B010
                anchor.run(f"rm -f {RETRIES}")
                record = Round(args.size, index, os.getloadavg(), os.cpu_count() or 0)
                try:
                    one_round(inventory, conns, record, measure)
                except Exception as exc:  # recorded; the next round goes on
                    record.error = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                retries = anchor.run(f"cat {RETRIES} 2>/dev/null | wc -l").stdout.strip()
                with results.open("a") as handle:
                    row = {"variant": variant, "label_retries": int(retries or 0)}
                    handle.write(json.dumps({**row, **dataclasses.asdict(record)}) + "\n")
                print(f"{variant} {index}: {describe(record)}; label retries {retries}")
                if index and not record.error:
                    walls[variant].append(record.wall)
        reset(conns)
        conns.close()
    finally:
        cluster.down()
    for variant, values in walls.items():
        if values:
            spread = f"{min(values):.2f}-{max(values):.2f}"
            print(f"{variant}: median {statistics.median(values):.2f} s ({spread}) over "
                  f"{len(values)} rounds")  # fmt: skip
    print(f"raw rounds: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
