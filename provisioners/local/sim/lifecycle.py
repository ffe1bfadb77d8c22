"""The messages Auto Scaling posts to a lifecycle hook's target, in AWS's own format.

moto stores lifecycle hooks but sends nothing; the simulation posts these itself (see
corrections.py). The shapes follow the Auto Scaling user guide ("Receive notifications" /
"Amazon SQS"): a test notification when a hook is created, then one message per lifecycle
action, carrying the token that CompleteLifecycleAction and RecordLifecycleActionHeartbeat take.
Pure: no moto import here, so the formats are unit-tested on their own.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TEST_NOTIFICATION = "autoscaling:TEST_NOTIFICATION"
SERVICE = "AWS Auto Scaling"
# The instance states of a terminating instance held by a hook, as describe-auto-scaling-groups
# shows them.
TERMINATING_WAIT = "Terminating:Wait"
TERMINATING_PROCEED = "Terminating:Proceed"


@dataclass(frozen=True)
class LifecycleAction:
    """One instance held by one hook, waiting for CompleteLifecycleAction or the timeout."""

    token: str
    account_id: str
    group_name: str
    hook_name: str
    transition: str
    instance_id: str
    notification_metadata: str | None = None


def new_token() -> str:
    """LifecycleActionToken values are UUIDs on AWS."""
    return str(uuid.uuid4())


def aws_time(moment: datetime) -> str:
    """`2024-01-19T00:36:26.533Z`: ISO 8601 in UTC with milliseconds, as AWS writes it."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def action_message(action: LifecycleAction, now: datetime) -> str:
    """The message body for a lifecycle action (JSON, keys in AWS's order)."""
    launching = action.transition == LAUNCHING
    body: dict[str, str] = {
        "Origin": "EC2" if launching else "AutoScalingGroup",
        "LifecycleHookName": action.hook_name,
        "Destination": "AutoScalingGroup" if launching else "EC2",
        "AccountId": action.account_id,
        "RequestId": str(uuid.uuid4()),
        "LifecycleTransition": action.transition,
        "AutoScalingGroupName": action.group_name,
        "Service": SERVICE,
        "Time": aws_time(now),
        "EC2InstanceId": action.instance_id,
        "LifecycleActionToken": action.token,
    }
    if action.notification_metadata:
        body["NotificationMetadata"] = action.notification_metadata
    return json.dumps(body)


def hook_test_notification(account_id: str, group_name: str, group_arn: str, now: datetime) -> str:
    """What AWS posts to a hook's target when the hook is created (consumers must skip it)."""
    return json.dumps(
        {
            "AccountId": account_id,
            "RequestId": str(uuid.uuid4()),
            "AutoScalingGroupARN": group_arn,
            "AutoScalingGroupName": group_name,
            "Service": SERVICE,
            "Event": TEST_NOTIFICATION,
            "Time": aws_time(now),
        }
    )


def queue_name_of(target_arn: str | None) -> str | None:
    """The queue name of an SQS target ARN (arn:aws:sqs:REGION:ACCOUNT:NAME), else None."""
    if not target_arn:
        return None
    parts = target_arn.split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "sqs":
        return parts[5]
    return None
