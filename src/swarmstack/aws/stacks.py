"""CloudFormation stacks: look one up, read its outputs, delete it, name its tags."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml
from botocore.exceptions import ClientError

from .. import __version__
from ..contract import CLUSTER_TAG
from .error_translation import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

# Stacks created by swarmstack carry the template's cluster tag; without it a stack is
# someone else's. (No ':' in our keys: instances read their tags through IMDS.)
VERSION_TAG = "swarmstack-version"

# A stack in one of these states cannot take a new change set until it settles.
BUSY_SUFFIX = "_IN_PROGRESS"
# Created-and-failed stacks cannot be updated, only deleted.
DEAD_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
# A stack that only holds an unexecuted CREATE change set: nothing was created yet.
REVIEW_STATE = "REVIEW_IN_PROGRESS"


@dataclass(frozen=True)
class Stack:
    """What describe_stacks says about one stack."""

    name: str
    stack_id: str
    status: str
    reason: str | None
    created: datetime | None
    updated: datetime | None
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def managed_by_swarmstack(self) -> bool:
        return CLUSTER_TAG in self.tags

    @property
    def busy(self) -> bool:
        return self.status.endswith(BUSY_SUFFIX) and self.status != REVIEW_STATE


def stack_tags(cluster_name: str, user_tags: dict[str, str]) -> list[dict[str, str]]:
    """Tags for the stack; CloudFormation copies them onto every resource it creates."""
    tags = {**user_tags, CLUSTER_TAG: cluster_name, VERSION_TAG: __version__}
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def describe_stack(cfn: CloudFormationClient, name_or_id: str) -> Stack | None:
    """The stack, or None when no stack of that name exists (deleted stacks only by id)."""
    with aws_errors():
        try:
            stacks = cfn.describe_stacks(StackName=name_or_id)["Stacks"]
        except ClientError as exc:
            if _is_missing_stack(exc):
                return None
            raise
    if not stacks:
        return None
    raw = stacks[0]
    return Stack(
        name=raw["StackName"],
        stack_id=raw.get("StackId", raw["StackName"]),
        status=raw["StackStatus"],
        reason=raw.get("StackStatusReason"),
        created=raw.get("CreationTime"),
        updated=raw.get("LastUpdatedTime"),
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in raw.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in raw.get("Parameters", [])
        },
        tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
    )


def template_parameters(body: str) -> dict[str, dict[str, Any]]:
    """The Parameters section of a JSON or YAML template body."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        # CloudFormation YAML may use short-form tags (!Ref); they do not matter here.
        document = yaml.load(body, Loader=_IgnoreTagsLoader)  # noqa: S506 - tags are ignored
    parameters = document.get("Parameters", {}) if isinstance(document, dict) else {}
    return {str(k): dict(v) for k, v in parameters.items() if isinstance(v, dict)}


class _IgnoreTagsLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's !Ref/!Sub/... tags as plain values."""


def _ignore_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return None  # pragma: no cover - the three node kinds above are all YAML has


_IgnoreTagsLoader.add_multi_constructor("!", _ignore_tag)


def delete_stack(cfn: CloudFormationClient, stack_id: str) -> None:
    with aws_errors():
        cfn.delete_stack(StackName=stack_id)


def retained_resources(cfn: CloudFormationClient, stack_id: str) -> list[dict[str, str]]:
    """Resources a finished delete left behind (failed to delete, or retained by policy)."""
    with aws_errors():
        try:
            rows = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
        except ClientError as exc:
            if _is_missing_stack(exc):
                return []
            raise
    return [
        {
            "logical_id": row.get("LogicalResourceId", ""),
            "physical_id": row.get("PhysicalResourceId", ""),
            "type": row.get("ResourceType", ""),
            "status": row.get("ResourceStatus", ""),
            "reason": row.get("ResourceStatusReason", ""),
        }
        for row in rows
        if row.get("ResourceStatus") in {"DELETE_FAILED", "DELETE_SKIPPED"}
        and row.get("LogicalResourceId")
    ]


def _is_missing_stack(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationError" and "does not exist" in str(
        error.get("Message", "")
    )
