"""The orchestrator runs the plan's step graph: dependencies first, independent steps side by
side, nothing after a failure (no SSH: run_step is replaced)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from swarmstack import stepgraph
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
    (line,) = caught.value.problems  # the failure and how far the plan got, in one line
    assert line.endswith("(1 of 3 steps were done; re-run to continue from there)")


# --- the runner itself (swarmstack.stepgraph), shared with the Azure deploy ----------------


def graph_step(key: str, log: list[str], *after: str, fail: bool = False) -> stepgraph.Step:
    def run(context: stepgraph.Context) -> None:
        context.emit("working")
        time.sleep(0.02)
        log.append(key)
        if fail:
            raise RuntimeError(f"{key} broke")

    return stepgraph.Step(key, run, frozenset(after))


def test_runner_orders_by_dependencies_and_reports_events_in_order() -> None:
    log: list[str] = []
    events: list[tuple[str, str]] = []
    outcome = stepgraph.run_graph(
        [graph_step("c", log, "b"), graph_step("b", log, "a"), graph_step("a", log)],
        on_event=lambda e: events.append((e.key, e.phase)),
    )
    assert log == ["a", "b", "c"]
    assert outcome.done == ["a", "b", "c"]
    assert outcome.ok
    assert events[:3] == [("a", "started"), ("a", "working"), ("a", "done")]
    assert events.index(("a", "done")) < events.index(("b", "started"))


def test_runner_runs_independent_steps_side_by_side_within_the_bound() -> None:
    running: set[str] = set()
    peak = 0
    lock = threading.Lock()

    def work(key: str) -> stepgraph.Step:
        def run(context: stepgraph.Context) -> None:
            nonlocal peak
            with lock:
                running.add(key)
                peak = max(peak, len(running))
            time.sleep(0.1)
            with lock:
                running.discard(key)

        return stepgraph.Step(key, run)

    started = time.monotonic()
    outcome = stepgraph.run_graph([work(f"s{i}") for i in range(6)], max_parallel=3)
    assert len(outcome.done) == 6
    assert peak == 3, "at most max_parallel steps at once, and that many"
    assert time.monotonic() - started < 0.55, "6 steps of 0.1 s on 3 threads take ~0.2 s"


def test_a_step_on_the_longest_chain_starts_before_a_crowd_of_short_ones() -> None:
    """Bounded to one step at a time: when ``a`` is done, ``c`` (two steps wait on it) starts
    before the workers listed earlier, which nothing waits on; ties keep the given order."""
    log: list[str] = []
    lock = threading.Lock()

    def work(key: str, *after: str) -> stepgraph.Step:
        def run(context: stepgraph.Context) -> None:
            with lock:
                log.append(key)

        return stepgraph.Step(key, run, frozenset(after))

    graph = [work(f"w{i}") for i in range(1, 5)]
    graph += [work("a"), work("c", "a"), work("d", "c"), work("e", "c")]
    outcome = stepgraph.run_graph(graph, max_parallel=1)
    assert outcome.ok
    assert log == ["a", "c", "w1", "w2", "w3", "w4", "d", "e"]


def test_runner_starts_nothing_new_after_a_failure() -> None:
    log: list[str] = []
    outcome = stepgraph.run_graph(
        [
            graph_step("a", log),
            graph_step("b", log, "a", fail=True),
            graph_step("c", log, "b"),
            graph_step("d", log, "b"),
        ]
    )
    assert log == ["a", "b"]
    assert list(outcome.failed) == ["b"]
    assert str(outcome.failed["b"]) == "b broke"
    assert sorted(outcome.skipped) == ["c", "d"]
    assert not outcome.ok


def test_runner_keep_going_skips_only_the_dependents_of_a_local_failure() -> None:
    log: list[str] = []
    events: list[stepgraph.Event] = []
    outcome = stepgraph.run_graph(
        [
            graph_step("a", log, fail=True),
            graph_step("b", log, "a"),
            graph_step("slow", log),
            graph_step("after-slow", log, "slow"),
        ],
        keep_going=lambda error: isinstance(error, RuntimeError),
        on_event=events.append,
    )
    assert sorted(outcome.done) == ["after-slow", "slow"]
    assert outcome.skipped == ["b"]
    skipped = [e for e in events if e.phase == stepgraph.SKIPPED]
    assert [(e.key, e.detail) for e in skipped] == [("b", "a failed")]


def test_dry_run_runs_nothing_and_reports_the_waves() -> None:
    log: list[str] = []
    planned: list[str] = []
    outcome = stepgraph.run_graph(
        [
            graph_step("init", log),
            graph_step("w1", log, "init"),
            graph_step("m2", log, "init"),
            graph_step("m3", log, "m2"),
        ],
        dry_run=True,
        on_event=lambda e: planned.append(e.key),
    )
    assert log == []
    assert outcome.waves == [["init"], ["w1", "m2"], ["m3"]]
    assert planned == ["init", "w1", "m2", "m3"]


def test_a_cycle_or_a_duplicate_key_is_refused_before_anything_runs() -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="cycle"):
        stepgraph.run_graph([graph_step("a", log, "b"), graph_step("b", log, "a")])
    with pytest.raises(ValueError, match="two steps"):
        stepgraph.run_graph([graph_step("a", log), graph_step("a", log)])
    assert log == []


def test_ctrl_c_stops_the_run_and_names_the_steps_still_running() -> None:
    release = threading.Event()
    interrupted: list[bool] = []

    def blocked(context: stepgraph.Context) -> None:
        while not release.wait(0.01):
            pass

    def on_event(event: stepgraph.Event) -> None:
        if event.key == "blocked" and event.phase == stepgraph.STARTED:
            raise KeyboardInterrupt

    def unblock() -> None:  # what bootstrap does: close the connections the steps wait on
        interrupted.append(True)
        release.set()

    log: list[str] = []
    with pytest.raises(stepgraph.Interrupted) as caught:
        stepgraph.run_graph(
            [stepgraph.Step("blocked", blocked), graph_step("later", log, "blocked")],
            on_event=on_event,
            on_interrupt=unblock,
        )
    assert caught.value.running == ("blocked",)
    assert interrupted == [True]
    assert log == []


def test_a_stopping_run_wakes_sleeping_steps() -> None:
    woke: list[str] = []

    def sleeper(context: stepgraph.Context) -> None:
        try:
            context.sleep(30)
        except stepgraph.Stopped:
            woke.append("stopped")
            raise

    def failing(context: stepgraph.Context) -> None:
        time.sleep(0.05)
        raise RuntimeError("boom")

    started = time.monotonic()
    outcome = stepgraph.run_graph(
        [stepgraph.Step("sleeper", sleeper), stepgraph.Step("failing", failing)]
    )
    assert woke == ["stopped"]
    assert time.monotonic() - started < 5
    assert set(outcome.failed) == {"sleeper", "failing"}
