"""The stack's termination hooks on moto, as corrected to behave like AWS (the corrections the
simulation runs with): the hook from the template posts AWS's notification to the lifecycle
queue, and the instance waits in Terminating:Wait until CompleteLifecycleAction.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from swarmstack.spec import ClusterSpec
from swarmstack.templates.aws import build_template, render_body


@pytest.fixture
def stack(aws_endpoint: str, public_image_parameters: str) -> dict[str, Any]:
    """The full template with one manager and one worker; yields its worker group and queue."""
    boto3.client("ec2").create_key_pair(KeyName="ops")
    body = render_body(build_template(ClusterSpec.model_validate({"cluster_size": 1}))).body
    # Through S3 as on AWS: the full template is over the 51,200-byte inline limit.
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="hooks.json", Body=body.encode())
    parameters = {
        "KeyName": "ops",
        "ManagerSize": "1",
        "AvailabilityZone1": "us-east-1a",
        "AvailabilityZone2": "us-east-1b",
        "AvailabilityZone3": "us-east-1c",
    }
    boto3.client("cloudformation").create_stack(
        StackName="hooks",
        TemplateURL="https://s3.amazonaws.com/templates/hooks.json",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    groups = boto3.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    [worker] = [g for g in groups if "Worker" in g["AutoScalingGroupName"]]
    sqs = boto3.client("sqs")
    [queue] = [u for u in sqs.list_queues()["QueueUrls"] if "LifecycleQueue" in u]
    return {"group": worker["AutoScalingGroupName"], "queue": queue, "worker": worker}


def _messages(queue: str) -> list[dict[str, Any]]:
    found = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def _states(group: str) -> dict[str, str]:
    [found] = boto3.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[group]
    )["AutoScalingGroups"]
    return {i["InstanceId"]: i["LifecycleState"] for i in found["Instances"]}


def _ec2_state(instance_id: str) -> str:
    [reservation] = boto3.client("ec2").describe_instances(InstanceIds=[instance_id])[
        "Reservations"
    ]
    return str(reservation["Instances"][0]["State"]["Name"])


def test_the_templates_hook_targets_the_lifecycle_queue(stack: dict[str, Any]) -> None:
    [hook] = boto3.client("autoscaling").describe_lifecycle_hooks(
        AutoScalingGroupName=stack["group"]
    )["LifecycleHooks"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["NotificationTargetARN"].endswith(stack["queue"].rsplit("/", 1)[1])
    assert hook["HeartbeatTimeout"] == 900
    assert "WorkerAutoScalingGroup" in hook["AutoScalingGroupName"]
    # AWS tests the target when the hook is created.
    assert any(m.get("Event") == "autoscaling:TEST_NOTIFICATION" for m in _messages(stack["queue"]))


def test_a_terminated_worker_waits_for_its_lifecycle_action(stack: dict[str, Any]) -> None:
    autoscaling = boto3.client("autoscaling")
    [instance_id] = _states(stack["group"])
    _messages(stack["queue"])  # the test notifications
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=instance_id, ShouldDecrementDesiredCapacity=True
    )
    assert _states(stack["group"]) == {instance_id: "Terminating:Wait"}
    assert _ec2_state(instance_id) == "running"  # held until the action completes
    [notice] = [m for m in _messages(stack["queue"]) if "LifecycleActionToken" in m]
    assert notice["EC2InstanceId"] == instance_id
    assert notice["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert notice["AutoScalingGroupName"] == stack["group"]

    autoscaling.record_lifecycle_action_heartbeat(
        AutoScalingGroupName=stack["group"],
        LifecycleHookName=notice["LifecycleHookName"],
        LifecycleActionToken=notice["LifecycleActionToken"],
    )
    autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=stack["group"],
        LifecycleHookName=notice["LifecycleHookName"],
        LifecycleActionToken=notice["LifecycleActionToken"],
        LifecycleActionResult="CONTINUE",
    )
    assert _states(stack["group"]) == {}
    assert _ec2_state(instance_id) == "terminated"


def test_completing_an_unknown_action_is_a_validation_error(stack: dict[str, Any]) -> None:
    with pytest.raises(boto3.client("autoscaling").exceptions.ClientError) as caught:
        boto3.client("autoscaling").complete_lifecycle_action(
            AutoScalingGroupName=stack["group"],
            LifecycleHookName="swarmstack-node-leaving",
            LifecycleActionToken="00000000-0000-0000-0000-000000000000",
            LifecycleActionResult="CONTINUE",
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_scale_in_holds_the_leaving_instance_too(stack: dict[str, Any]) -> None:
    autoscaling = boto3.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName=stack["group"], DesiredCapacity=2)
    assert sorted(_states(stack["group"]).values()) == ["InService", "InService"]
    autoscaling.set_desired_capacity(AutoScalingGroupName=stack["group"], DesiredCapacity=1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(_states(stack["group"])) != 2:
        time.sleep(0.1)
    assert sorted(_states(stack["group"]).values()) == ["InService", "Terminating:Wait"]
