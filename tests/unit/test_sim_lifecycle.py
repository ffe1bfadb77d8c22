"""The lifecycle notifications the simulation posts (moto sends none): AWS's message shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from swarmstack.provisioners.local.sim.lifecycle import (
    TERMINATING,
    LifecycleAction,
    action_message,
    aws_time,
    hook_test_notification,
    queue_name_of,
)

NOW = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
ACTION = LifecycleAction(
    token="71514b9d-6a40-4b26-8523-05e7ee35fa40",
    account_id="123456789012",
    group_name="prod-WorkerAutoScalingGroup-ABC",
    hook_name="swarmstack-node-leaving",
    transition=TERMINATING,
    instance_id="i-0123456789abcdef0",
    notification_metadata='{"swarmstack-role": "worker"}',
)


def test_a_termination_message_carries_what_complete_lifecycle_action_needs() -> None:
    body = json.loads(action_message(ACTION, NOW))
    assert body == {
        "Origin": "AutoScalingGroup",
        "LifecycleHookName": "swarmstack-node-leaving",
        "Destination": "EC2",
        "AccountId": "123456789012",
        "RequestId": body["RequestId"],
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "AutoScalingGroupName": "prod-WorkerAutoScalingGroup-ABC",
        "Service": "AWS Auto Scaling",
        "Time": "2026-03-04T05:06:07.891Z",
        "EC2InstanceId": "i-0123456789abcdef0",
        "LifecycleActionToken": "71514b9d-6a40-4b26-8523-05e7ee35fa40",
        "NotificationMetadata": '{"swarmstack-role": "worker"}',
    }
    assert len(body["RequestId"]) == 36


def test_without_metadata_the_key_is_left_out() -> None:
    bare = LifecycleAction(**{**ACTION.__dict__, "notification_metadata": None})
    assert "NotificationMetadata" not in json.loads(action_message(bare, NOW))


def test_a_launching_message_goes_from_ec2_to_the_group() -> None:
    launching = LifecycleAction(
        **{**ACTION.__dict__, "transition": "autoscaling:EC2_INSTANCE_LAUNCHING"}
    )
    body = json.loads(action_message(launching, NOW))
    assert (body["Origin"], body["Destination"]) == ("EC2", "AutoScalingGroup")


def test_the_test_notification_has_an_event_and_no_token() -> None:
    body = json.loads(hook_test_notification("123456789012", "g", "arn:aws:autoscaling:x", NOW))
    assert body["Event"] == "autoscaling:TEST_NOTIFICATION"
    assert "LifecycleActionToken" not in body
    assert body["AutoScalingGroupName"] == "g"


def test_times_are_utc_with_milliseconds() -> None:
    elsewhere = NOW.astimezone(timezone(timedelta(hours=2)))
    assert aws_time(elsewhere) == "2026-03-04T05:06:07.891Z"


def test_only_sqs_targets_name_a_queue() -> None:
    assert queue_name_of("arn:aws:sqs:us-east-1:123456789012:prod-LifecycleQueue-X") == (
        "prod-LifecycleQueue-X"
    )
    assert queue_name_of("arn:aws:sns:us-east-1:123456789012:topic") is None
    assert queue_name_of(None) is None
