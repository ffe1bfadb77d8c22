"""Run a graph of steps: dependencies first, independent steps side by side.

One runner for every place that runs a dependency graph: the SSH bootstrap (swarm steps on
hosts) and the Azure deploy and destroy (resources), and the node agents to come.

- A step starts as soon as every step in its ``after`` succeeded (a key that is not in the
  graph counts as done: e.g. a resource group that already exists), on a bounded thread pool.
  When more steps are ready than the bound allows, the one with the longest chain of steps
  waiting on it starts first (then the given order): a step that becomes ready late on the
  critical path (the next manager's join) never queues behind a crowd of short ones.
- After a failure nothing new starts, unless ``keep_going(error)`` says the failure is local
  to its step: then only the steps that depend on it are skipped.
- Progress arrives as ``Event``s on the calling thread - both the runner's own (started,
  done, failed, skipped) and what steps ``emit`` - so a Ctrl-C or a callback that raises stops
  the run cleanly: nothing new starts, running steps are told to stop (``context.stopped``,
  ``context.sleep``) and ``on_interrupt`` may unblock them; the runner waits for them and
  raises ``Interrupted`` naming the steps that were still running.
- ``dry_run`` runs nothing and reports, in order, the waves of steps that would run side by
  side.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

# Phases the runner reports itself; steps emit their own (e.g. creating, joining as manager).
STARTED, DONE, FAILED, SKIPPED, PLANNED = "started", "done", "failed", "skipped", "planned"


@dataclass(frozen=True)
class Event:
    key: str
    label: str
    phase: str
    detail: str = ""
    elapsed: float = 0.0  # seconds since the run started
    error: BaseException | None = None  # with FAILED


class Stopped(Exception):
    """Raised inside a step (by ``context.sleep``/``check``) once the run is stopping."""


class Interrupted(Exception):
    """The run was interrupted (Ctrl-C); ``running`` names the steps that were in flight."""

    def __init__(self, running: tuple[str, ...]) -> None:
        super().__init__(", ".join(running) or "nothing running")
        self.running = running


@dataclass
class Context:
    """What a running step may use: report progress, and notice that the run is stopping."""

    key: str
    label: str
    _started: float
    _events: queue.Queue[Event | Future[None]]
    _stop: threading.Event

    def emit(self, phase: str, detail: str = "") -> None:
        elapsed = time.monotonic() - self._started
        self._events.put(Event(self.key, self.label, phase, detail, elapsed))

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        if self._stop.is_set():
            raise Stopped

    def sleep(self, seconds: float) -> None:
        """Sleep, or raise Stopped as soon as the run stops."""
        if self._stop.wait(seconds):
            raise Stopped


@dataclass(frozen=True)
class Step:
    key: str
    run: Callable[[Context], None]
    after: frozenset[str] = field(default_factory=frozenset)
    label: str = ""  # for people; the key when empty

    @property
    def name(self) -> str:
        return self.label or self.key


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)  # in the order they finished
    failed: dict[str, BaseException] = field(default_factory=dict)  # in the order they failed
    skipped: list[str] = field(default_factory=list)  # never started
    waves: list[list[str]] = field(default_factory=list)  # dry run: what would run together

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


EventSink = Callable[[Event], None]


def _chain_lengths(steps: list[Step]) -> dict[str, int]:
    """For each step, how many steps its longest chain of dependents holds (0: none)."""
    dependents: dict[str, list[str]] = {s.key: [] for s in steps}
    for step in steps:
        for before in step.after:
            if before in dependents:
                dependents[before].append(step.key)
    lengths: dict[str, int] = {}
    for key in (k for wave in reversed(waves(steps)) for k in wave):  # dependents come first
        lengths[key] = max((lengths[d] + 1 for d in dependents[key]), default=0)
    return lengths


def waves(steps: Iterable[Step]) -> list[list[str]]:
    """The steps in rounds that could run side by side; raises ValueError on a cycle."""
    steps = list(steps)
    keys = {s.key for s in steps}
    _check_unique(steps)
    remaining = {s.key: s.after & keys for s in steps}
    done: set[str] = set()
    rounds: list[list[str]] = []
    while remaining:
        ready = [s.key for s in steps if s.key in remaining and remaining[s.key] <= done]
        if not ready:
            raise ValueError(f"the steps depend on each other in a cycle: {', '.join(remaining)}")
        rounds.append(ready)
        done.update(ready)
        for key in ready:
            del remaining[key]
    return rounds


def run_graph(
    steps: Iterable[Step],
    *,
    on_event: EventSink | None = None,
    max_parallel: int | None = None,
    keep_going: Callable[[BaseException], bool] | None = None,
    on_interrupt: Callable[[], None] | None = None,
    dry_run: bool = False,
    thread_name: str = "step",
) -> Outcome:
    """Run ``steps``; returns what was done, what failed (with its error) and what never ran.

    A step's error never propagates from here: it is in ``Outcome.failed`` (callers decide
    which errors are bugs). Raises ValueError for a cycle or duplicate keys (before running
    anything) and Interrupted on KeyboardInterrupt.
    """
    steps = list(steps)
    emit = on_event or (lambda event: None)
    order = waves(steps)
    if dry_run:
        for key in (k for wave in order for k in wave):
            step = next(s for s in steps if s.key == key)
            emit(Event(key, step.name, PLANNED))
        return Outcome(waves=order)
    return _Runner(steps, emit, max_parallel, keep_going, on_interrupt, thread_name).run()


class _Runner:
    def __init__(
        self,
        steps: list[Step],
        emit: EventSink,
        max_parallel: int | None,
        keep_going: Callable[[BaseException], bool] | None,
        on_interrupt: Callable[[], None] | None,
        thread_name: str,
    ) -> None:
        self.steps = steps
        self.keys = {s.key for s in steps}
        self.emit = emit
        self.keep_going = keep_going or (lambda error: False)
        self.on_interrupt = on_interrupt
        self.workers = max(1, min(max_parallel or len(steps), len(steps) or 1))
        self.thread_name = thread_name
        # Step events and finished futures share one queue, so a step's last event is
        # always delivered before its completion.
        self.events: queue.Queue[Event | Future[None]] = queue.Queue()
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.outcome = Outcome()
        self.pending = {s.key: s for s in steps}
        self.rank = _chain_lengths(steps)
        self.running: dict[Future[None], Step] = {}
        self.halted = False  # a failure stopped the run: nothing new starts

    def run(self) -> Outcome:
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.thread_name)
        try:
            self.loop(pool)
        except KeyboardInterrupt:
            self.stop.set()
            in_flight = tuple(sorted(s.name for s in self.running.values()))
            if self.on_interrupt is not None:
                self.on_interrupt()
            pool.shutdown(wait=True, cancel_futures=True)
            raise Interrupted(in_flight) from None
        except BaseException:
            self.stop.set()
            if self.on_interrupt is not None:
                self.on_interrupt()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return self.outcome

    def loop(self, pool: ThreadPoolExecutor) -> None:
        while self.running or (self.pending and not self.halted):
            if not self.halted:
                self.start_ready(pool)
            if not self.running:
                break
            try:
                item = self.events.get(timeout=0.1)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                continue
            if isinstance(item, Event):
                self.emit(item)
            else:
                self.finish(item)
        self.outcome.skipped.extend(self.pending)
        while True:  # events a step emitted after the loop saw its completion
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Event):
                self.emit(item)

    def start_ready(self, pool: ThreadPoolExecutor) -> None:
        """Start ready steps while fewer than the bound run: longest chain waiting first."""
        failed = set(self.outcome.failed) | set(self.outcome.skipped)
        done = set(self.outcome.done)
        ready: list[Step] = []
        for key, step in list(self.pending.items()):
            prerequisites = step.after & self.keys
            blocked = prerequisites & failed
            if blocked:
                del self.pending[key]
                self.outcome.skipped.append(key)
                failed.add(key)
                detail = f"{', '.join(sorted(blocked))} failed"
                self.emit(Event(key, step.name, SKIPPED, detail, self.elapsed()))
            elif prerequisites <= done:
                ready.append(step)
        ready.sort(key=lambda step: -self.rank[step.key])  # stable: the given order next
        for step in ready[: max(0, self.workers - len(self.running))]:
            del self.pending[step.key]
            context = Context(step.key, step.name, self.started, self.events, self.stop)
            future = pool.submit(step.run, context)
            self.running[future] = step
            future.add_done_callback(self.events.put)
            self.emit(Event(step.key, step.name, STARTED, "", self.elapsed()))

    def finish(self, future: Future[None]) -> None:
        step = self.running.pop(future)
        error = future.exception()
        if error is None:
            self.outcome.done.append(step.key)
            self.emit(Event(step.key, step.name, DONE, "", self.elapsed()))
            return
        self.outcome.failed[step.key] = error
        if not self.keep_going(error):
            self.halted = True
            self.stop.set()
        self.emit(Event(step.key, step.name, FAILED, str(error), self.elapsed(), error))

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _check_unique(steps: list[Step]) -> None:
    seen: set[str] = set()
    for step in steps:
        if step.key in seen:
            raise ValueError(f"two steps have the key {step.key!r}")
        seen.add(step.key)
