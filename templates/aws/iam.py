"""IAM for the nodes, least privilege: the roles and their log writes, scoped to the stack's
log group. What the node agent may do is in selfmanaging.py. No write on "*".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Template
from troposphere.iam import InstanceProfile, PolicyType, Role

from ...spec import ClusterSpec
from ...spec import Role as SwarmRole
from .conditions import CLOUDWATCH_LOGS_ON
from .tags import stack_tags

LOG_ACTIONS = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]


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
