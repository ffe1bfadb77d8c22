"""Event streaming, replayed from recorded describe_stack_events pages.

moto reports no per-resource events, so these recordings (tests/unit/data/stack_events_*.json)
hold what CloudFormation returns: every event of the stack, newest first, in pages with
NextToken, growing from poll to poll. Poll 0 is the stack before the operation starts.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from swarmstack.aws.events import EventFeed, PollSchedule, StackEvent, watch_stack
from swarmstack.cli.aws_stack_views import format_event

DATA = Path(__file__).parent / "data"


class RecordedCloudFormation:
    """Answers describe_stacks / describe_stack_events from a recording.

    Each describe_stacks call starts the next poll, as watch_stack reads the status first.
    """

    def __init__(self, name: str) -> None:
        self.recording = json.loads((DATA / name).read_text())
        self.poll = 0
        self.event_calls = 0

    @property
    def stack_id(self) -> str:
        return str(self.recording["stack_id"])

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == self.stack_id
        self.poll = min(self.poll + 1, len(self.recording["polls"]) - 1)
        current = self.recording["polls"][self.poll]
        return {
            "Stacks": [
                {
                    "StackId": self.stack_id,
                    "StackStatus": current["stack_status"],
                    "StackStatusReason": current["stack_status_reason"],
                }
            ]
        }

    def describe_stack_events(self, StackName: str, NextToken: str = "") -> dict[str, Any]:
        assert StackName == self.stack_id
        self.event_calls += 1
        pages = self.recording["polls"][self.poll]["event_pages"]
        index = 0
        if NextToken:  # the page after the one that handed out this token
            index = next(
                i for i in range(1, len(pages)) if pages[i - 1].get("NextToken") == NextToken
            )
        page = dict(pages[index])
        page["StackEvents"] = [_parsed(raw) for raw in page["StackEvents"]]
        return page

    def all_events(self) -> list[dict[str, Any]]:
        last = self.recording["polls"][-1]["event_pages"]
        return [raw for page in last for raw in page["StackEvents"]]


def _parsed(raw: dict[str, Any]) -> dict[str, Any]:
    """boto3 hands out timestamps as aware datetimes."""
    return {**raw, "Timestamp": datetime.fromisoformat(raw["Timestamp"].replace("Z", "+00:00"))}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def replay(name: str) -> tuple[RecordedCloudFormation, list[StackEvent], Any, FakeTime]:
    cfn = RecordedCloudFormation(name)
    feed = EventFeed(cfn, cfn.stack_id)  # type: ignore[arg-type]
    feed.poll()  # what the CLI does before executing: earlier events are not shown
    printed: list[StackEvent] = []
    fake_time = FakeTime()
    outcome = watch_stack(
        cfn,  # type: ignore[arg-type]
        cfn.stack_id,
        feed=feed,
        on_event=printed.append,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    return cfn, printed, outcome, fake_time


def test_a_rollback_ends_failed_and_names_the_first_failed_resource() -> None:
    _, printed, outcome, _ = replay("stack_events_create_rollback.json")

    assert outcome.status == "ROLLBACK_COMPLETE"
    assert not outcome.succeeded
    failure = outcome.first_failure
    assert failure is not None
    assert (failure.logical_id, failure.status) == ("WorkerGroup", "CREATE_FAILED")
    assert "vCPU limit of 32" in failure.reason
    assert outcome.to_dict()["first_failure"]["logical_id"] == "WorkerGroup"
    assert printed[-1].status == "ROLLBACK_COMPLETE"


def test_each_new_event_is_printed_once_in_time_order() -> None:
    cfn, printed, _, _ = replay("stack_events_create_rollback.json")

    everything = cfn.all_events()
    # Everything but the REVIEW_IN_PROGRESS event that existed before the change set ran.
    assert len(printed) == len(everything) - 1
    assert len({event.event_id for event in printed}) == len(printed)
    assert [e.timestamp for e in printed] == sorted(e.timestamp for e in printed)
    assert printed[0].status == "CREATE_IN_PROGRESS"
    assert printed[0].reason == "User Initiated"


def test_an_update_shows_only_its_own_events_and_reads_only_new_pages() -> None:
    cfn, printed, outcome, _ = replay("stack_events_update.json")

    assert outcome.succeeded
    assert outcome.first_failure is None
    assert [(e.logical_id, e.status) for e in printed] == [
        ("prod", "UPDATE_IN_PROGRESS"),
        ("WorkerGroup", "UPDATE_IN_PROGRESS"),
        ("WorkerGroup", "UPDATE_COMPLETE"),
        ("prod", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        ("prod", "UPDATE_COMPLETE"),
    ]
    history_pages = len(cfn.recording["polls"][0]["event_pages"])
    polls = len(cfn.recording["polls"])
    # Priming reads the whole history once; later polls stop at the first page they know.
    assert cfn.event_calls < history_pages + polls * 2


def test_polls_back_off_while_nothing_happens_and_never_wait_long() -> None:
    _, _, _, fake_time = replay("stack_events_update.json")

    schedule = PollSchedule()
    assert fake_time.sleeps[0] == schedule.first  # events arrived: poll again soon
    assert fake_time.sleeps[1] > fake_time.sleeps[0]  # quiet: back off
    assert fake_time.sleeps[2] > fake_time.sleeps[1]
    assert fake_time.sleeps[3] == schedule.first  # events again: fast again
    assert max(fake_time.sleeps) <= schedule.longest <= 10


def test_backoff_stops_at_the_longest_interval() -> None:
    schedule = PollSchedule(first=2.0, factor=1.5, longest=10.0)
    interval = schedule.first
    for _ in range(20):
        interval = schedule.next(interval, something_happened=False)
    assert interval == 10.0
    assert schedule.next(interval, something_happened=True) == 2.0


def test_ctrl_c_stops_watching_without_touching_the_stack() -> None:
    cfn = RecordedCloudFormation("stack_events_create_rollback.json")

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        watch_stack(
            cfn,  # type: ignore[arg-type]
            cfn.stack_id,
            on_event=lambda event: None,
            sleep=interrupted,
        )
    # The recording client has no cancel/delete methods: any such call would have failed.
    assert cfn.poll == 1


def test_events_older_than_since_are_not_reported() -> None:
    cfn = RecordedCloudFormation("stack_events_update.json")
    cfn.poll = len(cfn.recording["polls"]) - 1
    since = datetime.fromisoformat("2026-11-27T22:03:05+00:00")

    fresh = EventFeed(cfn, cfn.stack_id, since=since).poll()  # type: ignore[arg-type]

    assert [e.logical_id for e in fresh][:2] == ["prod", "WorkerGroup"]
    assert all(e.timestamp >= since for e in fresh)
    assert len(fresh) == 5


def test_an_event_line_has_time_logical_id_type_status_and_reason() -> None:
    cfn = RecordedCloudFormation("stack_events_create_rollback.json")
    cfn.poll = len(cfn.recording["polls"]) - 1
    failed = next(
        StackEvent.from_api(_parsed(raw))
        for raw in cfn.all_events()
        if raw["ResourceStatus"] == "CREATE_FAILED" and raw["LogicalResourceId"] == "WorkerGroup"
    )

    line = format_event(failed)

    local_time = failed.timestamp.astimezone().strftime("%H:%M:%S")
    assert line.startswith(f"{local_time}  WorkerGroup ")
    assert "AWS::AutoScaling::AutoScalingGroup" in line
    assert "CREATE_FAILED  Resource handler returned message" in line
