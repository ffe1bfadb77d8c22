"""Azure steps on the shared step-graph runner (swarmstack.stepgraph), with live events.

Resources are created or deleted in dependency order, independent ones side by side. A failed
resource skips only what depends on it (Azure failures are local to one resource); a bug
stops the run and keeps its traceback. Events and the caller's callback stay on the calling
thread, so a Ctrl-C (or a callback that raises) stops cleanly: no new step starts, running
steps stop waiting, and the error says which operations Azure is still carrying out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import stepgraph
from ..errors import AzureInterrupted
from ..stepgraph import Context as StepContext
from ..stepgraph import Event, Stopped
from .failures import Failure, expected, failure_of

HEARTBEAT_SECONDS = 30.0

EventSink = Callable[[Event], None]
__all__ = ["Event", "EventSink", "Step", "StepContext", "Stopped", "run_steps", "wait"]


@dataclass(frozen=True)
class Step:
    key: str
    label: str  # "managers (swarm-managers)"
    run: Callable[[StepContext], None]
    after: frozenset[str] = field(default_factory=frozenset)


def wait(context: StepContext, poller: Any, phase: str = "in progress") -> Any:
    """Wait for an SDK poller, giving up promptly when the run is interrupted.

    Emits a heartbeat every HEARTBEAT_SECONDS so long operations (scale sets take minutes)
    visibly progress.
    """
    next_beat = time.monotonic() + HEARTBEAT_SECONDS
    while not poller.done():
        context.check()
        poller.wait(0.2)
        if time.monotonic() >= next_beat:
            context.emit(phase, f"status {poller.status()}")
            next_beat += HEARTBEAT_SECONDS
    return poller.result()


def run_steps(steps: list[Step], on_event: EventSink, verb: str = "deploy") -> list[Failure]:
    """Run every step once its `after` steps succeeded; returns the failures (empty = success).

    A step whose prerequisite failed is skipped and reported. Raises AzureInterrupted on Ctrl-C.
    """
    labels = {step.key: step.label for step in steps}

    def show(event: Event) -> None:
        # The runner's own start/done events add nothing to the steps' created/deleted lines.
        if event.phase in (stepgraph.STARTED, stepgraph.DONE):
            return
        if event.phase == stepgraph.FAILED and event.error is not None:
            if not expected(event.error):
                return  # a bug: raised below with its traceback
            failure = failure_of(event.label, event.error)
            event = Event(event.key, event.label, event.phase, f"{failure.code}: {failure.message}")
        on_event(event)

    graph = [stepgraph.Step(s.key, s.run, s.after, s.label) for s in steps]
    try:
        outcome = stepgraph.run_graph(
            graph, on_event=show, keep_going=expected, thread_name="azure"
        )
    except stepgraph.Interrupted as interrupted:
        continuing = "; ".join(interrupted.running) if interrupted.running else "nothing"
        raise AzureInterrupted(
            f"{verb} interrupted; still running in Azure: {continuing}",
            hint=f"run the same {verb} command again: it re-reads what exists and resumes",
        ) from None
    for error in outcome.failed.values():
        if not expected(error) and not isinstance(error, Stopped):
            raise error  # a bug: keep its traceback
    return [failure_of(labels[key], error) for key, error in outcome.failed.items()]
