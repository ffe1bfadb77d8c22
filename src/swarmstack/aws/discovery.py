"""Find a stack's swarm nodes: stack resources -> Auto Scaling groups -> EC2 instances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..contract import ROLE_TAG
from ..spec import Role
from .error_translation import aws_errors

if TYPE_CHECKING:
    from .session import AwsConnection

ASG_TYPE = "AWS::AutoScaling::AutoScalingGroup"
# Tag keys a group may carry to name its swarm role: ours first, then common spellings
# for hand-edited templates.
ROLE_TAGS = (ROLE_TAG, "SwarmRole", "swarm-role", "Role", "role")


@dataclass(frozen=True)
class Node:
    """One instance of the stack, as the SSH bootstrap needs it."""

    role: Role
    instance_id: str
    zone: str
    private_ip: str | None
    public_ip: str | None
    state: str
    group: str
    # The node agent signalled CloudFormation that this node is Ready in the swarm (readiness.py).
    signalled_ready: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "instance_id": self.instance_id,
            "zone": self.zone,
            "private_ip": self.private_ip,
            "public_ip": self.public_ip,
            "state": self.state,
            "group": self.group,
            "signalled_ready": self.signalled_ready,
        }


def role_of_group(logical_id: str, tags: dict[str, str]) -> Role | None:
    """A group's role from its role tag, else from its logical id (ManagerAsg, WorkerGroup)."""
    for key in ROLE_TAGS:
        value = tags.get(key, "").lower()
        if value in {"manager", "worker"}:
            return "manager" if value == "manager" else "worker"
    lowered = logical_id.lower()
    if "manager" in lowered:
        return "manager"
    if "worker" in lowered:
        return "worker"
    return None


def discover_nodes(connection: AwsConnection, stack_id: str) -> list[Node]:
    """Every instance in the stack's manager and worker groups, managers first."""
    cfn = connection.cloudformation()
    with aws_errors():
        resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    groups = {
        row["PhysicalResourceId"]: row.get("LogicalResourceId", "")
        for row in resources
        if row.get("ResourceType") == ASG_TYPE and row.get("PhysicalResourceId")
    }
    if not groups:
        return []
    members: list[tuple[Role, str, str, str]] = []  # role, group, instance id, zone
    autoscaling = connection.autoscaling()
    with aws_errors():
        pages = autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
            AutoScalingGroupNames=sorted(groups)
        )
        for page in pages:
            for group in page["AutoScalingGroups"]:
                name = group["AutoScalingGroupName"]
                tags = {t.get("Key", ""): t.get("Value", "") for t in group.get("Tags", [])}
                role = role_of_group(groups.get(name, name), tags)
                if role is None:
                    continue
                for instance in group.get("Instances", []):
                    members.append(
                        (role, name, instance["InstanceId"], instance["AvailabilityZone"])
                    )
    details = _instance_details(connection, [member[2] for member in members])
    nodes = [
        Node(
            role=role,
            instance_id=instance_id,
            zone=zone,
            private_ip=details.get(instance_id, {}).get("PrivateIpAddress"),
            public_ip=details.get(instance_id, {}).get("PublicIpAddress"),
            state=details.get(instance_id, {}).get("State", {}).get("Name", "unknown"),
            group=group,
        )
        for role, group, instance_id, zone in members
    ]
    return sorted(nodes, key=lambda n: (n.role != "manager", n.zone, n.instance_id))


def _instance_details(connection: AwsConnection, instance_ids: list[str]) -> dict[str, Any]:
    if not instance_ids:
        return {}
    details: dict[str, Any] = {}
    ec2 = connection.ec2()
    with aws_errors():
        # describe_instances takes at most 1000 ids per call.
        for start in range(0, len(instance_ids), 1000):
            chunk = instance_ids[start : start + 1000]
            for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=chunk):
                for reservation in page["Reservations"]:
                    for instance in reservation.get("Instances", []):
                        details[instance["InstanceId"]] = instance
    return details
