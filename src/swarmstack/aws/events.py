"""Watching a stack operation: stream its new events until the stack settles.

describe_stack_events returns every event the stack ever had, newest first and paginated, so
each poll reads pages only until it reaches an event it has already seen. Polls start every
couple of seconds and back off while nothing happens, and go fast again as soon as something
does. The clock and sleep are parameters, so tests replay recorded pages without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import AwsError
from .error_translation import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

STACK_TYPE = "AWS::CloudFormation::Stack"
SUCCESS_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
# Follow-on failures: CloudFormation cancels the other resources once one has failed.
_CANCELLED = ("Resource creation cancelled", "Resource update cancelled")


@dataclass(frozen=True)
class StackEvent:
    """One stack event, as printed: timestamp, logical id, type, status, reason."""

    event_id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str
    physical_id: str

    @classmethod
    def from_api(cls, raw: Any) -> StackEvent:
        return cls(
            event_id=str(raw["EventId"]),
            timestamp=raw["Timestamp"],
            logical_id=str(raw.get("LogicalResourceId", "")),
            resource_type=str(raw.get("ResourceType", "")),
            status=str(raw.get("ResourceStatus", "")),
            reason=str(raw.get("ResourceStatusReason", "") or ""),
            physical_id=str(raw.get("PhysicalResourceId", "") or ""),
        )

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")

    def to_dict(self) -> dict[str, str]:
        return {
            "timestamp": self.timestamp.isoformat(),
            "logical_id": self.logical_id,
            "type": self.resource_type,
            "status": self.status,
            "reason": self.reason,
        }


def is_terminal(status: str) -> bool:
    """The stack has settled (successfully or not); REVIEW_IN_PROGRESS waits for a user."""
    return not status.endswith("_IN_PROGRESS")


@dataclass
class EventFeed:
    """The events of one stack that have not been handed out yet, oldest first."""

    cfn: CloudFormationClient
    stack_id: str
    since: datetime | None = None  # older events belong to earlier operations
    _seen: set[str] = field(default_factory=set)

    def poll(self) -> list[StackEvent]:
        fresh: list[StackEvent] = []
        for event in self._newest_first():
            if event.event_id in self._seen or (self.since and event.timestamp < self.since):
                break
            fresh.append(event)
        self._seen.update(event.event_id for event in fresh)
        # Newest first from the API: reverse, then sort by time (stable for equal stamps).
        fresh.reverse()
        return sorted(fresh, key=lambda event: event.timestamp)

    def _newest_first(self) -> Iterator[StackEvent]:
        token: str | None = None
        while True:
            with aws_errors():
                page = (
                    self.cfn.describe_stack_events(StackName=self.stack_id, NextToken=token)
                    if token
                    else self.cfn.describe_stack_events(StackName=self.stack_id)
                )
            events = sorted(
                (StackEvent.from_api(raw) for raw in page.get("StackEvents", [])),
                key=lambda event: event.timestamp,
                reverse=True,
            )
            yield from events
            token = page.get("NextToken")
            if not token:
                return


@dataclass(frozen=True)
class WatchResult:
    stack_id: str
    status: str
    reason: str
    events: list[StackEvent]

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS_STATES

    @property
    def first_failure(self) -> StackEvent | None:
        """The resource that failed first: the cause, not the cancellations that follow it."""
        failures = [e for e in self.events if e.failed]
        causes = [
            e
            for e in failures
            if e.resource_type != STACK_TYPE and not e.reason.startswith(_CANCELLED)
        ]
        candidates = causes or failures
        return candidates[0] if candidates else None

    def to_dict(self) -> dict[str, Any]:
        failure = self.first_failure
        return {
            "status": self.status,
            "reason": self.reason,
            "succeeded": self.succeeded,
            "first_failure": failure.to_dict() if failure else None,
            "events": len(self.events),
        }


@dataclass(frozen=True)
class PollSchedule:
    """Short polls that back off while nothing changes (never CloudFormation's 30 s)."""

    first: float = 2.0
    factor: float = 1.5
    longest: float = 10.0

    def next(self, current: float, something_happened: bool) -> float:
        return self.first if something_happened else min(current * self.factor, self.longest)


def watch_stack(
    cfn: CloudFormationClient,
    stack_id: str,
    *,
    on_event: Callable[[StackEvent], None],
    since: datetime | None = None,
    feed: EventFeed | None = None,
    on_poll: Callable[[str], None] | None = None,
    schedule: PollSchedule | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout: float | None = None,
) -> WatchResult:
    """Poll until the stack settles, handing each new event to `on_event` once, in order.

    The stack's status is read before its events, so when the status is terminal the same
    poll has already printed every event up to it. KeyboardInterrupt propagates: stopping the
    watch never cancels the operation. Pass a `feed` that has already polled to skip the
    events of earlier operations (no clock comparison, so clock skew does not matter);
    without one, `since` decides which events are new.
    """
    schedule = schedule or PollSchedule()
    if feed is None:
        feed = EventFeed(cfn, stack_id, since)
    seen: list[StackEvent] = []
    interval = schedule.first
    deadline = None if timeout is None else clock() + timeout
    while True:
        status, reason = _stack_status(cfn, stack_id)
        fresh = feed.poll()
        for event in fresh:
            on_event(event)
        seen.extend(fresh)
        if on_poll is not None:
            on_poll(status)
        if is_terminal(status):
            return WatchResult(stack_id, status, reason, seen)
        if deadline is not None and clock() > deadline:
            raise AwsError(f"stack {stack_id} still {status} after {timeout:.0f}s of watching")
        interval = schedule.next(interval, bool(fresh))
        sleep(interval)


def _stack_status(cfn: CloudFormationClient, stack_id: str) -> tuple[str, str]:
    with aws_errors():
        stacks = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    if not stacks:  # deleted stacks stay visible by id, so this is unexpected
        return "DELETE_COMPLETE", ""
    return stacks[0]["StackStatus"], stacks[0].get("StackStatusReason", "") or ""
