"""What the node agent (swarmstack.provisioners.nodeagent) needs from the stack.

- One user data for both roles, stored once in Mappings (both launch templates read it):
  the role is an instance tag, so there is nothing per role to say.
- Creation and update policies: the groups wait for each instance's resource signal, which
  its agent sends only when the node is Ready in the swarm; managers are replaced one at a
  time, each waiting for its successor's signal.
- IAM, least privilege: the swarm's state under /swarmstack/<stack>/ in SSM (managers read
  and write it; workers read only the worker token and the swarm record), the stack's own
  signal, and - managers only - its resource list, its instances, its lifecycle queue and
  groups, and this stack's load balancer. Workers call nothing else.
- What a node needs to join refers to no Auto Scaling group: CloudFormation creates a
  resource that refers to a group only once the group is complete, and a group completes only
  when its nodes have joined. The actions on the groups themselves (lifecycle, target group
  attachments) are a policy of their own, needed only once the swarm runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from troposphere import FindInMap, GetAtt, Ref, Sub, Template
from troposphere.iam import PolicyType
from troposphere.policies import (
    AutoScalingRollingUpdate,
    CreationPolicy,
    ResourceSignal,
    UpdatePolicy,
)

from ...contract import CLUSTER_TAG
from ...spec import Role
from . import parameters as p

USER_DATA_MAPPING = "NodeUserData"
# Time a group may take to form: boot, packages, docker, the join (workers join in parallel,
# managers one at a time).
SIGNAL_TIMEOUT: dict[Role, str] = {"manager": "PT30M", "worker": "PT60M"}
SIGNAL_COUNT: dict[Role, str] = {"manager": p.MANAGER_SIZE, "worker": p.CLUSTER_SIZE}
# The node agent keeps its state here; IAM scopes every SSM permission to it.
PARAMETERS = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:"
    "parameter/swarmstack/${AWS::StackName}"
)
MANAGER_SSM_ACTIONS = [
    "ssm:DeleteParameters",
    "ssm:GetParameter",
    "ssm:GetParametersByPath",
    "ssm:PutParameter",
]
LOAD_BALANCER_ACTIONS = [
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:DeleteListener",
]
CREATE_TARGET_GROUP_ACTIONS = [
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:CreateTargetGroup",
]
CHANGE_TARGET_GROUP_ACTIONS = [
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
]
# Describe calls do not support resource-level permissions; they are read-only.
READ_ONLY_ACTIONS = ["ec2:DescribeInstances"]
LOAD_BALANCER_READ_ONLY_ACTIONS = [
    "autoscaling:DescribeLoadBalancerTargetGroups",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
]
QUEUE_CONSUMER_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
]
LIFECYCLE_ACTIONS = [
    "autoscaling:CompleteLifecycleAction",
    "autoscaling:RecordLifecycleActionHeartbeat",
]
TARGET_GROUP_ATTACHMENT_ACTIONS = [
    "autoscaling:AttachLoadBalancerTargetGroups",
    "autoscaling:DetachLoadBalancerTargetGroups",
]


def shared_user_data(template: Template, user_data: Callable[[Role], str]) -> Callable[[Role], Any]:
    """The launch templates' user data: one copy in Mappings when both roles have the same."""
    by_role: dict[Role, str] = {role: user_data(role) for role in ("manager", "worker")}
    if by_role["manager"] != by_role["worker"]:
        return by_role.__getitem__
    template.add_mapping(USER_DATA_MAPPING, {"node": {"base64": by_role["worker"]}})
    return lambda role: FindInMap(USER_DATA_MAPPING, "node", "base64")


def add_signal_policies(group: Any, role: Role) -> None:
    """CREATE_COMPLETE and UPDATE_COMPLETE mean every node of the group is Ready in the swarm."""
    group.CreationPolicy = CreationPolicy(
        ResourceSignal=ResourceSignal(Count=Ref(SIGNAL_COUNT[role]), Timeout=SIGNAL_TIMEOUT[role])
    )
    group.UpdatePolicy = UpdatePolicy(
        AutoScalingRollingUpdate=AutoScalingRollingUpdate(
            MaxBatchSize=1,
            MinInstancesInService=0,
            WaitOnResourceSignals=True,
            PauseTime=SIGNAL_TIMEOUT[role],
        )
    )


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def add_agent_permissions(
    template: Template,
    manager_role: Any,
    worker_role: Any,
    groups: list[Any],
    lifecycle_queue: Any,
    load_balancer: Any | None,
    load_balancer_group: Any | None,
) -> None:
    signal = {
        "Effect": "Allow",
        "Action": "cloudformation:SignalResource",
        "Resource": Ref("AWS::StackId"),
    }
    template.add_resource(
        PolicyType(
            "WorkerAgentPolicy",
            PolicyName="swarm-worker-agent",
            Roles=[Ref(worker_role)],
            PolicyDocument=_document(
                {
                    # The worker token and the swarm record; never the manager token.
                    "Effect": "Allow",
                    "Action": "ssm:GetParameter",
                    "Resource": [Sub(f"{PARAMETERS}/token/worker"), Sub(f"{PARAMETERS}/swarm")],
                },
                signal,
            ),
        )
    )
    read_only = READ_ONLY_ACTIONS + (LOAD_BALANCER_READ_ONLY_ACTIONS if load_balancer else [])
    manager_statements = [
        {"Effect": "Allow", "Action": MANAGER_SSM_ACTIONS, "Resource": Sub(f"{PARAMETERS}/*")},
        {
            "Effect": "Allow",
            "Action": ["cloudformation:ListStackResources", "cloudformation:SignalResource"],
            "Resource": Ref("AWS::StackId"),
        },
        {"Effect": "Allow", "Action": sorted(read_only), "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": QUEUE_CONSUMER_ACTIONS,
            "Resource": GetAtt(lifecycle_queue, "Arn"),
        },
    ]
    if load_balancer is not None:
        manager_statements += _load_balancer_statements(load_balancer, load_balancer_group)
    template.add_resource(
        PolicyType(
            "ManagerAgentPolicy",
            PolicyName="swarm-manager-agent",
            Roles=[Ref(manager_role)],
            PolicyDocument=_document(*manager_statements),
        )
    )
    group_actions = LIFECYCLE_ACTIONS + (
        TARGET_GROUP_ATTACHMENT_ACTIONS if load_balancer is not None else []
    )
    template.add_resource(
        PolicyType(
            "ManagerGroupsPolicy",
            PolicyName="swarm-manager-groups",
            Roles=[Ref(manager_role)],
            PolicyDocument=_document(
                {
                    # Complete or hold a leaving node's lifecycle action; attach the target
                    # groups of published ports. Only the stack's own two groups.
                    "Effect": "Allow",
                    "Action": sorted(group_actions),
                    "Resource": [
                        Sub(
                            "arn:${AWS::Partition}:autoscaling:${AWS::Region}:"
                            "${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/${Group}",
                            Group=Ref(group),
                        )
                        for group in groups
                    ],
                }
            ),
        )
    )


def _load_balancer_statements(load_balancer: Any, load_balancer_group: Any) -> list[dict[str, Any]]:
    """Listeners of this stack's load balancer only; target groups the agent tagged with this
    stack; its load balancer's ingress rules."""
    listeners = Sub(
        "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:"
        "listener/${Name}/*",
        Name=GetAtt(load_balancer, "LoadBalancerFullName"),
    )
    target_groups = Sub(
        "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:"
        "targetgroup/swarmstack-*"
    )
    ours = {"StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": Ref("AWS::StackName")}}
    return [
        {
            "Effect": "Allow",
            "Action": LOAD_BALANCER_ACTIONS,
            "Resource": [Ref(load_balancer), listeners],
        },
        {
            "Effect": "Allow",
            "Action": CREATE_TARGET_GROUP_ACTIONS,
            "Resource": target_groups,
            "Condition": {"StringEquals": {f"aws:RequestTag/{CLUSTER_TAG}": Ref("AWS::StackName")}},
        },
        {
            "Effect": "Allow",
            "Action": CHANGE_TARGET_GROUP_ACTIONS,
            "Resource": target_groups,
            "Condition": ours,
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            "Resource": Sub(
                "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/${Group}",
                Group=GetAtt(load_balancer_group, "GroupId"),
            ),
        },
    ]
