"""Run steps in dependency order, independent ones in parallel, with live events.

Steps run on worker threads; events and the caller's callback stay on the calling thread, so a
Ctrl-C (or a callback that raises) stops cleanly: no new step starts, running steps stop
waiting, and the error says which operations Azure is still carrying out.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import AzureInterrupted
from .failures import Failure, expected, failure_of

HEARTBEAT_SECONDS = 30.0


@dataclass(frozen=True)
class Event:
    """Progress of one resource: phase is e.g. creating, created, unchanged, failed, deleted."""

    key: str
    label: str  # "managers (swarm-managers)"
    phase: str
    detail: str = ""
    elapsed: float = 0.0


EventSink = Callable[[Event], None]


class Stopped(Exception):
    """Raised inside a step when the run was interrupted."""


@dataclass
class StepContext:
    """What a running step may use: report progress, and notice an interruption."""

    key: str
    label: str
    started: float
    _events: queue.Queue[Event]
    _stop: threading.Event

    def emit(self, phase: str, detail: str = "") -> None:
        elapsed = time.monotonic() - self.started
        self._events.put(Event(self.key, self.label, phase, detail, elapsed))

    def sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Stopped

    def wait(self, poller: Any, phase: str = "in progress") -> Any:
        """Wait for an SDK poller, giving up promptly when the run is interrupted.

        Emits a heartbeat every HEARTBEAT_SECONDS so long operations (scale sets take
        minutes) visibly progress.
        """
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        while not poller.done():
            if self._stop.is_set():
                raise Stopped
            poller.wait(0.2)
            if time.monotonic() >= next_beat:
                self.emit(phase, f"status {poller.status()}")
                next_beat += HEARTBEAT_SECONDS
        return poller.result()


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    run: Callable[[StepContext], None]
    after: frozenset[str] = field(default_factory=frozenset)


def run_steps(steps: list[Step], on_event: EventSink, verb: str = "deploy") -> list[Failure]:
    """Run every step once its `after` steps succeeded; returns the failures (empty = success).

    A step whose prerequisite failed is skipped and reported. Raises AzureInterrupted on Ctrl-C.
    """
    keys = {step.key for step in steps}
    pending = {step.key: step for step in steps}
    succeeded: set[str] = set()
    failed: set[str] = set()
    failures: list[Failure] = []
    events: queue.Queue[Event] = queue.Queue()
    stop = threading.Event()
    started = time.monotonic()
    running: dict[Future[None], Step] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(steps)), thread_name_prefix="azure")
    try:
        while pending or running:
            for key, step in list(pending.items()):
                prerequisites = step.after & keys
                blocked = prerequisites & failed
                if blocked:
                    del pending[key]
                    failed.add(key)
                    reason = ", ".join(sorted(blocked))
                    on_event(Event(key, step.label, "skipped", f"{reason} failed"))
                elif prerequisites <= succeeded:
                    del pending[key]
                    context = StepContext(key, step.label, started, events, stop)
                    running[pool.submit(step.run, context)] = step
            _drain(events, on_event, timeout=0.05)
            for future in [f for f in running if f.done()]:
                step = running.pop(future)
                _drain(events, on_event, timeout=0)
                error = future.exception()
                if error is None:
                    succeeded.add(step.key)
                    continue
                if not expected(error):
                    raise error  # a bug: keep its traceback
                failed.add(step.key)
                failure = failure_of(step.label, error)
                failures.append(failure)
                on_event(
                    Event(step.key, step.label, "failed", f"{failure.code}: {failure.message}")
                )
        _drain(events, on_event, timeout=0)
    except KeyboardInterrupt:
        stop.set()
        in_flight = sorted(step.label for step in running.values())
        pool.shutdown(wait=True, cancel_futures=True)
        continuing = "; ".join(in_flight) if in_flight else "nothing"
        raise AzureInterrupted(
            f"{verb} interrupted; still running in Azure: {continuing}",
            hint=f"run the same {verb} command again: it re-reads what exists and resumes",
        ) from None
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return failures


def _drain(events: queue.Queue[Event], on_event: EventSink, timeout: float) -> None:
    try:
        event = events.get(timeout=timeout) if timeout else events.get_nowait()
    except queue.Empty:
        return
    on_event(event)
    while True:
        try:
            on_event(events.get_nowait())
        except queue.Empty:
            return
