"""Label updates that queue up on the leader while one runs go as one command (group commit):
a burst of joins ending together costs a few SSH commands on the leader, not one each; a
lone update runs at once, as its own step's command."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from swarmstack.errors import RemoteCommandFailed
from swarmstack.provisioners import bootstrap
from swarmstack.provisioners.coalesce import Coalescer
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.progress import NullProgress
from swarmstack.provisioners.ssh import CommandResult
from swarmstack.provisioners.swarm import ExpectedNode, Plan, Step
from swarmstack.spec import ClusterSpec

WAIT = 5.0  # seconds a test waits for its threads before it fails


def wait_until(condition: Callable[[], object]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Batches:
    """A run function that records its batches; the first one blocks until released."""

    def __init__(self, fail_batch: int | None = None) -> None:
        self.ran: list[list[str]] = []
        self.release = threading.Event()
        self.fail_batch = fail_batch

    def __call__(self, batch: list[str]) -> None:
        self.ran.append(list(batch))
        if len(self.ran) == 1:
            assert self.release.wait(WAIT)
        if len(self.ran) - 1 == self.fail_batch:
            raise RuntimeError(f"batch {self.fail_batch} failed")


def submit_all(coalescer: Coalescer[str], items: list[str]) -> dict[str, BaseException | None]:
    outcomes: dict[str, BaseException | None] = {}

    def one(item: str) -> None:
        try:
            coalescer.submit(item)
            outcomes[item] = None
        except RuntimeError as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    return outcomes


def test_a_lone_item_runs_at_once_by_itself() -> None:
    batches = Batches()
    batches.release.set()
    Coalescer(batches).submit("a")
    assert batches.ran == [["a"]]


def test_items_submitted_while_a_batch_runs_go_together_in_the_next() -> None:
    batches = Batches()
    coalescer: Coalescer[str] = Coalescer(batches)
    first = threading.Thread(target=coalescer.submit, args=("a",))
    first.start()
    wait_until(lambda: batches.ran)
    rest = threading.Thread(target=submit_all, args=(coalescer, ["b", "c", "d"]))
    rest.start()
    wait_until(lambda: len(coalescer._waiting) == 3)
    batches.release.set()
    first.join(WAIT)
    rest.join(WAIT)
    assert batches.ran[0] == ["a"]
    assert sorted(batches.ran[1]) == ["b", "c", "d"]
    assert len(batches.ran) == 2


def test_every_item_of_a_failed_batch_fails_and_no_other() -> None:
    batches = Batches(fail_batch=1)
    coalescer: Coalescer[str] = Coalescer(batches)
    outcomes: dict[str, BaseException | None] = {}
    first = threading.Thread(target=lambda: outcomes.update(submit_all(coalescer, ["a"])))
    first.start()
    wait_until(lambda: batches.ran)
    rest = threading.Thread(target=lambda: outcomes.update(submit_all(coalescer, ["b", "c"])))
    rest.start()
    wait_until(lambda: len(coalescer._waiting) == 2)
    batches.release.set()
    first.join(WAIT)
    rest.join(WAIT)
    assert outcomes["a"] is None
    assert str(outcomes["b"]) == str(outcomes["c"]) == "batch 1 failed"


# --- in the executor ------------------------------------------------------------------------

ANCHOR = "198.18.0.11"
NODES = {f"198.18.0.{20 + i}": f"w{i}" for i in range(4)}


def labels_plan() -> Plan:
    """A formed swarm whose four workers each need a label: four updates, all ready at once."""
    steps = tuple(
        Step(
            id=f"update:{address}",
            action="update",
            host=ANCHOR,
            target=address,
            args={"address": address, "node": name, "labels_add": {"swarmstack.zone": "a"}},
        )
        for address, name in NODES.items()
    )
    expected = tuple(ExpectedNode(a, n, "worker") for a, n in NODES.items())
    return Plan(steps=steps, anchor=ANCHOR, cluster_id="c", expected=expected)


class Leader:
    """The anchor's connection: records each command; the first label command waits until
    the other three labels queue up behind it; ``fail`` makes the second command fail."""

    def __init__(self, fail: bool) -> None:
        self.ran: list[str] = []
        self.fail = fail
        self.executor: bootstrap._Run | None = None

    def run(self, text: str, **_: object) -> CommandResult:
        self.ran.append(text)
        if len(self.ran) == 1:
            wait_until(lambda: len(self.waiting()) == 3)
        status = 1 if self.fail and len(self.ran) == 2 else 0
        return CommandResult(text, status, "", "Error: update failed" * status, 0.0)

    def waiting(self) -> list[Step]:
        assert self.executor is not None
        return self.executor._label_updates[ANCHOR]._waiting


def run_labels(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> list[str]:
    """Execute labels_plan against a Leader (no SSH); returns the commands it ran."""
    leader = Leader(fail)
    inventory = inventory_from_data(
        {"hosts": [{"address": ANCHOR, "role": "manager"}]}, base=Path("/")
    )
    run = bootstrap._Run(ClusterSpec.model_validate({}), inventory, NullProgress(), 8, None)
    leader.executor = run

    @contextlib.contextmanager
    def use(address: str) -> Iterator[Leader]:
        assert address == ANCHOR
        yield leader

    monkeypatch.setattr(run.hosts, "use", use)
    try:
        run.execute(labels_plan())
    finally:
        run.close()
    return leader.ran


def test_labels_queued_behind_a_running_one_are_written_in_one_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran = run_labels(monkeypatch)
    assert len(ran) == 2
    first, batch = ran
    assert sum(name in first for name in NODES.values()) == 1
    # One command, the three updates in parallel in it (update-many's form).
    assert [name for name in NODES.values() if f" {name} " in batch] == [
        name for name in NODES.values() if f" {name} " not in first
    ]
    assert batch.count(" & pids=") == 3


def test_a_failed_batch_fails_the_run_naming_its_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RemoteCommandFailed) as failed:
        run_labels(monkeypatch, fail=True)
    assert "labels of 3 nodes" in str(failed.value)
