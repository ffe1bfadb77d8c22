"""Tag keys and tag sets shared by every resource of the stack.

Instances carry their cluster, role and log group as tags because the boot script reads them
from the instance metadata service (IMDS instance tags); the user data itself stays static per
role. IMDS only exposes tag keys made of letters, digits and ``+-=.,_:@`` - our keys also avoid
':' so they are plain file names under ``/latest/meta-data/tags/instance/``.
"""

from __future__ import annotations

import re
from typing import Any

from troposphere import If, NoValue, Ref, Sub, Tags

from ...spec import ClusterSpec, Role
from .conditions import CLOUDWATCH_LOGS_ON
from .parameters import ENABLE_SYSTEM_PRUNE

CLUSTER_TAG = "swarmstack-cluster"
ROLE_TAG = "swarmstack-role"
LOG_GROUP_TAG = "swarmstack-log-group"
SYSTEM_PRUNE_TAG = "swarmstack-system-prune"
RESERVED_PREFIX = "swarmstack-"

# What EC2 accepts as a tag key when instance tags are exposed through IMDS.
_IMDS_TAG_KEY = re.compile(r"^[A-Za-z0-9+=.,_:@-]+$")
_IMDS_FORBIDDEN_KEYS = {".", "..", "_index"}


def tag_problems(spec: ClusterSpec) -> list[str]:
    """User tags that would clash with ours or make EC2 refuse to launch the instances."""
    problems = []
    for key in spec.tags:
        if key.lower().startswith(RESERVED_PREFIX):
            problems.append(f"tags={key}: keys starting with {RESERVED_PREFIX} are reserved")
        elif not _IMDS_TAG_KEY.match(key) or key in _IMDS_FORBIDDEN_KEYS:
            problems.append(
                f"tags={key}: on AWS tag keys must be letters, digits and +-=.,_:@ only "
                "(no spaces or '/'), because instances read their tags through instance metadata"
            )
    return problems


def stack_tags(spec: ClusterSpec, name: str) -> Tags:
    """Tags for a stack resource: the user's tags, then ours (ours win on Name)."""
    return Tags(
        {
            **spec.tags,
            "Name": Sub(f"${{AWS::StackName}}-{name}"),
            CLUSTER_TAG: Ref("AWS::StackName"),
        }
    )


def instance_tags(spec: ClusterSpec, role: Role, log_group: Any) -> list[Any]:
    """Auto Scaling group tags, propagated to every instance at launch.

    ``log_group`` is the log group's name, or None when CloudWatch logs are not part of the
    template; the tag is dropped at deploy time when the condition is off.
    """
    fixed: dict[str, Any] = {
        **spec.tags,
        "Name": Sub(f"${{AWS::StackName}}-{role}"),
        CLUSTER_TAG: Ref("AWS::StackName"),
        ROLE_TAG: role,
        # yes/no: the boot script enables the daily prune timer from this.
        SYSTEM_PRUNE_TAG: Ref(ENABLE_SYSTEM_PRUNE),
    }
    tags: list[Any] = [
        {"Key": key, "Value": value, "PropagateAtLaunch": True}
        for key, value in sorted(fixed.items())
    ]
    if log_group is not None:
        tags.append(
            If(
                CLOUDWATCH_LOGS_ON,
                {"Key": LOG_GROUP_TAG, "Value": log_group, "PropagateAtLaunch": True},
                NoValue,
            )
        )
    return tags
