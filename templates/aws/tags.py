"""Tag keys and tag sets shared by every resource of the stack.

Instances carry their cluster, role and log group as tags because the boot script reads them
from the instance metadata service (IMDS instance tags); the user data itself stays static per
role. The keys themselves are swarmstack.contract's (one spelling on every cloud); this module
adds what AWS alone requires of the user's tags.
"""

from __future__ import annotations

import re
from typing import Any

from troposphere import If, Ref, Sub, Tags

from ...contract import CLUSTER_TAG, LOG_GROUP_TAG, ROLE_TAG, SYSTEM_PRUNE_TAG
from ...spec import ClusterSpec, Role
from .conditions import CLOUDWATCH_LOGS_ON
from .parameters import ENABLE_SYSTEM_PRUNE

# What EC2 accepts as a tag key when instance tags are exposed through IMDS.
_IMDS_TAG_KEY = re.compile(r"^[A-Za-z0-9+=.,_:@-]+$")
_IMDS_FORBIDDEN_KEYS = {".", "..", "_index"}
# EC2 takes 50 tags per resource; instances carry up to five of ours.
MAX_USER_TAGS = 45


def tag_problems(spec: ClusterSpec) -> list[str]:
    """User tags that would clash with ours or make EC2 refuse to launch the instances."""
    problems = []
    if len(spec.tags) > MAX_USER_TAGS:
        problems.append(
            f"tags: {len(spec.tags)} tags, but on AWS at most {MAX_USER_TAGS} (EC2 allows 50 per "
            "resource and swarmstack adds its own)"
        )
    for key in spec.tags:
        # Keys starting with contract.TAG_PREFIX are refused by the spec on every cloud.
        if not _IMDS_TAG_KEY.fullmatch(key) or key in _IMDS_FORBIDDEN_KEYS:
            problems.append(
                f"tags={key}: on AWS tag keys must be letters, digits and +-=.,_:@ only "
                "(no spaces or '/'), because instances read their tags through instance metadata"
            )
    return problems


def stack_tags(spec: ClusterSpec, name: str) -> Tags:
    """Tags for a stack resource: its Name. The cluster and the user's tags (spec ``tags``)
    are stack tags: CloudFormation copies them onto every resource it creates, so the template
    does not repeat them per resource (`launch-stack` passes ``swarmstack-cluster`` and the
    spec's tags; in the console they go under "Tags" when creating the stack). CloudFormation
    also tags every resource with ``aws:cloudformation:stack-name`` itself."""
    return Tags({"Name": Sub(f"${{AWS::StackName}}-{name}")})


def volume_tags(role: Role) -> Tags:
    """Tags for the volumes of a role's instances: EC2 creates them at launch, so neither
    CloudFormation's stack tags nor the group's tags reach them."""
    return Tags({"Name": Sub(f"${{AWS::StackName}}-{role}"), CLUSTER_TAG: Ref("AWS::StackName")})


def instance_tags(spec: ClusterSpec, role: Role, log_group: Any) -> Any:
    """Auto Scaling group tags, propagated to every instance at launch.

    ``log_group`` is the log group's name, or None when the template has no log group. With
    CloudWatch logs off the log group tag is empty: the node agent reads an empty (or absent)
    tag as "log locally".
    """
    fixed: dict[str, Any] = {
        "Name": Sub(f"${{AWS::StackName}}-{role}"),
        CLUSTER_TAG: Ref("AWS::StackName"),
        ROLE_TAG: role,
        # yes/no: the node agent enables the daily prune timer from this.
        SYSTEM_PRUNE_TAG: Ref(ENABLE_SYSTEM_PRUNE),
    }
    if log_group is not None:
        fixed[LOG_GROUP_TAG] = If(CLOUDWATCH_LOGS_ON, log_group, "")
    return [_propagated(key, value) for key, value in sorted(fixed.items())]


def _propagated(key: str, value: Any) -> dict[str, Any]:
    return {"Key": key, "Value": value, "PropagateAtLaunch": True}
