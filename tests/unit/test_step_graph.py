"""The orchestrator runs the plan's step graph: dependencies first, independent steps side by
side, nothing after a failure (no SSH: run_step is replaced)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from swarmstack.errors import RemoteCommandFailed
from swarmstack.provisioners import bootstrap
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.progress import NullProgress
from swarmstack.provisioners.swarm import Plan, Step
from swarmstack.spec import ClusterSpec

INVENTORY = inventory_from_data(
    {"hosts": [{"address": "198.18.0.11", "role": "manager"}]}, base=Path("/")
)


def make_run() -> bootstrap._Run:
    return bootstrap._Run(ClusterSpec.model_validate({}), INVENTORY, NullProgress(), 8, None)


def step(step_id: str, *after: str) -> Step:
    return Step(step_id, "update", "198.18.0.11", "198.18.0.11", {}, tuple(after))


def test_steps_run_after_their_dependencies_and_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = Plan(
        (
            step("init"),
            step("m2", "init"),
            step("m3", "m2"),
            step("w1", "init"),
            step("w2", "init"),
        ),
        "198.18.0.11",
        "",
        (),
    )
    order: list[str] = []
    running: set[str] = set()
    overlapped: set[frozenset[str]] = set()
    lock = threading.Lock()

    def run_step(self: bootstrap._Run, _plan: Plan, s: Step) -> None:
        with lock:
            running.add(s.id)
            overlapped.add(frozenset(running))
        time.sleep(0.05)
        with lock:
            running.discard(s.id)
            order.append(s.id)

    monkeypatch.setattr(bootstrap._Run, "run_step", run_step)
    run = make_run()
    try:
        run.execute(plan)
    finally:
        run.close()
    assert order[0] == "init"
    assert order.index("m2") < order.index("m3")
    assert any({"w1", "w2", "m2"} <= group for group in overlapped), "independent steps overlap"


def test_nothing_starts_after_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = Plan((step("init"), step("m2", "init"), step("m3", "m2")), "198.18.0.11", "", ())
    ran: list[str] = []

    def run_step(self: bootstrap._Run, _plan: Plan, s: Step) -> None:
        ran.append(s.id)
        if s.id == "m2":
            raise RemoteCommandFailed("198.18.0.12: `docker swarm join` exited 1: boom")

    monkeypatch.setattr(bootstrap._Run, "run_step", run_step)
    run = make_run()
    try:
        with pytest.raises(RemoteCommandFailed) as caught:
            run.execute(plan)
    finally:
        run.close()
    assert ran == ["init", "m2"]
    assert "1 of 3 steps were done; re-run to continue from there" in caught.value.problems
