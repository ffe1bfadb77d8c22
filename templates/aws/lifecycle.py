"""Termination lifecycle hooks: both groups hold a terminating instance and post a message to
an encrypted SQS queue, where the leader's node agent (provisioners/nodeagent) learns which
node is leaving, drains, demotes and removes it, and completes the action; only if no agent
does, the instance is terminated when the heartbeat timeout runs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Template
from troposphere.autoscaling import LifecycleHookSpecification
from troposphere.iam import Policy, Role
from troposphere.sqs import Queue

from ...spec import ClusterSpec
from .tags import stack_tags

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
HOOK_NAME = "swarmstack-node-leaving"
# How long a terminating instance is held (for the agent to drain/demote it) before the
# group terminates it anyway (DefaultResult CONTINUE).
HEARTBEAT_TIMEOUT_SECONDS = 900
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
SQS_MANAGED_KEY = "alias/aws/sqs"


@dataclass(frozen=True)
class Lifecycle:
    queue: Any
    hook_role: Any


def add_lifecycle(template: Template, spec: ClusterSpec) -> Lifecycle:
    queue = template.add_resource(
        Queue(
            "LifecycleQueue",
            # Holds only transient termination notices.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            # KMS with the account's AWS managed SQS key: its key policy already lets this
            # account's principals use it through SQS, so no key grants are needed.
            KmsMasterKeyId=SQS_MANAGED_KEY,
            MessageRetentionPeriod=QUEUE_RETENTION_SECONDS,
            VisibilityTimeout=120,
            Tags=stack_tags(spec, "lifecycle"),
        )
    )
    hook_role = template.add_resource(
        Role(
            "LifecycleHookRole",
            Description="Lets Auto Scaling post termination notices to the lifecycle queue",
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "autoscaling.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            Policies=[
                Policy(
                    PolicyName="post-to-lifecycle-queue",
                    PolicyDocument={
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
                                "Resource": GetAtt(queue, "Arn"),
                            }
                        ],
                    },
                )
            ],
            Tags=stack_tags(spec, "lifecycle-hook"),
        )
    )
    return Lifecycle(queue=queue, hook_role=hook_role)


def termination_hook(lifecycle: Lifecycle) -> LifecycleHookSpecification:
    return LifecycleHookSpecification(
        LifecycleHookName=HOOK_NAME,
        LifecycleTransition=TERMINATING,
        NotificationTargetARN=GetAtt(lifecycle.queue, "Arn"),
        RoleARN=GetAtt(lifecycle.hook_role, "Arn"),
        HeartbeatTimeout=HEARTBEAT_TIMEOUT_SECONDS,
        DefaultResult="CONTINUE",
        # No NotificationMetadata: a notice names its group (whose name says the role) and
        # instance, which is all the agent reads.
    )
