"""Change sets: the preview of what a launch or update will do, then its execution.

The workflow is sceptre's: create a change set, wait for CloudFormation to compute it, show it,
confirm, execute. An empty change set is not an error - it is "no changes" - and is deleted so
it does not pile up on the stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import AwsError, TemplateRejected
from .error_translation import aws_errors
from .template_upload import TemplateSource

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

ChangeSetType = Literal["CREATE", "UPDATE"]
# What CloudFormation says when a change set has nothing in it (wording varies by cause).
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
CAPABILITIES: list[Any] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]


@dataclass(frozen=True)
class Change:
    """One row of the preview."""

    action: str  # Add, Modify, Remove, Import, Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # True, False, Conditional, or "" for Add/Remove

    def to_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "logical_id": self.logical_id,
            "type": self.resource_type,
            "replacement": self.replacement,
        }


@dataclass(frozen=True)
class ChangeSet:
    change_set_id: str
    stack_id: str
    kind: ChangeSetType
    status: str
    reason: str
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to do. A computed change set may list no resource changes and still
        change something (outputs, parameter values), so only CloudFormation's verdict counts."""
        return self.status == "FAILED" and any(text in self.reason for text in _NO_CHANGES)


def change_set_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"swarmstack-{stamp}"


def create_change_set(
    cfn: CloudFormationClient,
    *,
    stack_name: str,
    kind: ChangeSetType,
    template: TemplateSource,
    parameters: dict[str, str],
    tags: list[dict[str, str]],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout: float = 600.0,
) -> ChangeSet:
    """Create the change set and wait until CloudFormation has computed it."""
    with aws_errors():
        created = cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=change_set_name(),
            ChangeSetType=kind,
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in sorted(parameters.items())
            ],
            Capabilities=CAPABILITIES,
            Tags=tags,  # type: ignore[arg-type]
            Description=f"swarmstack {kind.lower()} of {stack_name}",
            **template.change_set_arguments(),
        )
    change_set_id = created["Id"]
    deadline = clock() + timeout
    delay = 1.0
    while True:
        change_set = describe_change_set(cfn, change_set_id, kind)
        if change_set.status in {"CREATE_COMPLETE", "FAILED"}:
            break
        if clock() > deadline:
            raise AwsError(
                f"change set {change_set_id} still {change_set.status} after {timeout:.0f}s"
            )
        sleep(delay)
        delay = min(delay * 1.5, 5.0)
    if change_set.status == "FAILED" and not change_set.empty:
        discard_change_set(cfn, change_set)  # nothing half-made is left behind
        raise TemplateRejected(f"CloudFormation rejected the change set: {change_set.reason}")
    return change_set


def describe_change_set(
    cfn: CloudFormationClient, change_set_id: str, kind: ChangeSetType
) -> ChangeSet:
    changes: list[Change] = []
    token: str | None = None
    while True:
        with aws_errors():
            page = (
                cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
                if token
                else cfn.describe_change_set(ChangeSetName=change_set_id)
            )
        for raw in page.get("Changes", []):
            resource = raw.get("ResourceChange", {})
            changes.append(
                Change(
                    action=str(resource.get("Action", "")),
                    logical_id=str(resource.get("LogicalResourceId", "")),
                    resource_type=str(resource.get("ResourceType", "")),
                    replacement=str(resource.get("Replacement", "")),
                )
            )
        token = page.get("NextToken")
        if not token:
            break
    return ChangeSet(
        change_set_id=change_set_id,
        stack_id=page.get("StackId", ""),
        kind=kind,
        status=page.get("Status", ""),
        reason=page.get("StatusReason", "") or "",
        changes=changes,
    )


def execute_change_set(cfn: CloudFormationClient, change_set: ChangeSet) -> None:
    with aws_errors():
        cfn.execute_change_set(ChangeSetName=change_set.change_set_id)


def discard_change_set(cfn: CloudFormationClient, change_set: ChangeSet) -> None:
    """Delete an unexecuted change set; for a CREATE one also the empty REVIEW_IN_PROGRESS
    stack CloudFormation made to hold it, so a declined launch leaves nothing behind."""
    with aws_errors():
        cfn.delete_change_set(ChangeSetName=change_set.change_set_id)
        if change_set.kind == "CREATE":
            cfn.delete_stack(StackName=change_set.stack_id)
