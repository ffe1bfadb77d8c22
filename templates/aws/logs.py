"""The stack's CloudWatch log group (when EnableCloudWatchLogs=yes)."""

from __future__ import annotations

from typing import Any

from troposphere import If, NoValue, Ref, Template
from troposphere.logs import LogGroup

from ...spec import ClusterSpec
from . import parameters as p
from .conditions import CLOUDWATCH_LOGS_ON, LOG_KMS_KEY_GIVEN
from .suppressions import LOG_GROUP_KMS_OPTIONAL, checkov_skip
from .tags import stack_tags


def add_log_group(template: Template, spec: ClusterSpec) -> Any:
    """The log group; CloudFormation names it, instances learn the name from their tags."""
    return template.add_resource(
        LogGroup(
            "LogGroup",
            Condition=CLOUDWATCH_LOGS_ON,
            # Deleting the stack removes the swarm and its logs: nothing is left behind.
            # Export them first if you need them; retention expires them anyway.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            RetentionInDays=Ref(p.LOG_RETENTION),
            KmsKeyId=If(LOG_KMS_KEY_GIVEN, Ref(p.LOG_KMS_KEY_ARN), NoValue),
            Tags=stack_tags(spec, "logs"),
            Metadata=checkov_skip(LOG_GROUP_KMS_OPTIONAL),
        )
    )
