"""IAM for the nodes, least privilege: read-only discovery, log writes scoped to the stack's
log group, lifecycle actions scoped to the stack's own groups and queue. No write on "*".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.iam import InstanceProfile, Policy, PolicyType, Role

from ...spec import ClusterSpec
from ...spec import Role as SwarmRole
from .conditions import CLOUDWATCH_LOGS_ON
from .lifecycle import Lifecycle
from .tags import stack_tags

# Describe calls do not support resource-level permissions; they are read-only.
DISCOVERY_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "ec2:DescribeInstances",
]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
LIFECYCLE_ACTIONS = [
    "autoscaling:CompleteLifecycleAction",
    "autoscaling:RecordLifecycleActionHeartbeat",
]
QUEUE_CONSUMER_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
]


@dataclass(frozen=True)
class NodeIdentity:
    role: Any
    profile: Any


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def add_node_identity(template: Template, spec: ClusterSpec, role: SwarmRole) -> NodeIdentity:
    title = role.capitalize()
    iam_role = template.add_resource(
        Role(
            f"{title}Role",
            Description=f"Swarm {role} instances of this stack",
            AssumeRolePolicyDocument=_document(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            Policies=[
                Policy(
                    PolicyName="discover-swarm-nodes",
                    PolicyDocument=_document(
                        {"Effect": "Allow", "Action": DISCOVERY_ACTIONS, "Resource": "*"}
                    ),
                )
            ],
            Tags=stack_tags(spec, role),
        )
    )
    profile = template.add_resource(
        InstanceProfile(f"{title}InstanceProfile", Roles=[Ref(iam_role)])
    )
    return NodeIdentity(role=iam_role, profile=profile)


def add_log_permissions(template: Template, roles: list[Any], log_group: Any) -> None:
    template.add_resource(
        PolicyType(
            "NodeLogsPolicy",
            Condition=CLOUDWATCH_LOGS_ON,
            PolicyName="write-stack-logs",
            Roles=[Ref(role) for role in roles],
            PolicyDocument=_document(
                {"Effect": "Allow", "Action": LOG_ACTIONS, "Resource": GetAtt(log_group, "Arn")}
            ),
        )
    )


def add_lifecycle_permissions(
    template: Template, manager_role: Any, groups: list[Any], lifecycle: Lifecycle
) -> None:
    """Managers may read the lifecycle queue and heartbeat or complete the stack's hooks.

    The leader's node agent (provisioners/nodeagent) uses them to take a terminating node out
    of the swarm (drain, demote, remove) and then complete the hook, so a scale-in does not
    wait out the hook's heartbeat timeout (lifecycle.py).
    """
    group_arns = [
        Sub(
            "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:"
            "autoScalingGroup:*:autoScalingGroupName/${Group}",
            Group=Ref(group),
        )
        for group in groups
    ]
    template.add_resource(
        PolicyType(
            "ManagerLifecyclePolicy",
            PolicyName="lifecycle-hooks",
            Roles=[Ref(manager_role)],
            PolicyDocument=_document(
                {"Effect": "Allow", "Action": LIFECYCLE_ACTIONS, "Resource": group_arns},
                {
                    "Effect": "Allow",
                    "Action": QUEUE_CONSUMER_ACTIONS,
                    "Resource": GetAtt(lifecycle.queue, "Arn"),
                },
            ),
        )
    )
