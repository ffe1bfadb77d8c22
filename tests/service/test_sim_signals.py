"""SignalResource on the corrected moto: the signal is a stack event, as AWS records it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


def test_a_success_signal_becomes_an_event_of_the_resource(aws_endpoint: str) -> None:
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName="signals", TemplateBody=TEMPLATE)
    cfn.signal_resource(
        StackName="signals", LogicalResourceId="Queue", UniqueId="i-0abc", Status="SUCCESS"
    )
    events = cfn.describe_stack_events(StackName="signals")["StackEvents"]
    [signal] = [e for e in events if "signal" in e.get("ResourceStatusReason", "")]
    assert signal["ResourceStatusReason"] == "Received SUCCESS signal with UniqueId i-0abc"
    assert signal["LogicalResourceId"] == "Queue"
    assert signal["ResourceType"] == "AWS::SQS::Queue"


@pytest.mark.parametrize(
    ("stack", "resource", "status"),
    [("nope", "Queue", "SUCCESS"), ("signals", "Nope", "SUCCESS"), ("signals", "Queue", "MAYBE")],
)
def test_a_signal_to_nothing_is_refused(
    aws_endpoint: str, stack: str, resource: str, status: Any
) -> None:
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName="signals", TemplateBody=TEMPLATE)
    with pytest.raises(ClientError) as refused:
        cfn.signal_resource(
            StackName=stack, LogicalResourceId=resource, UniqueId="i-0abc", Status=status
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"
