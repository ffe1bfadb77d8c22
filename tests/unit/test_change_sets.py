"""Change set creation: waiting, empty change sets, rejected change sets cleaned up."""

from __future__ import annotations

from typing import Any

import pytest

from swarmstack.aws.changesets import create_change_set
from swarmstack.aws.template_upload import TemplateSource
from swarmstack.errors import TemplateRejected

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/prod/0f1e2d3c"
CHANGE_SET_ID = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/swarmstack-1/9a8b"


class FakeCloudFormation:
    """Answers with the given describe_change_set statuses in turn; records deletions."""

    def __init__(self, *statuses: tuple[str, str]) -> None:
        self.statuses = list(statuses)
        self.deleted: list[str] = []
        self.created: dict[str, Any] = {}

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        self.created = kwargs
        return {"Id": CHANGE_SET_ID, "StackId": STACK_ID}

    def describe_change_set(self, ChangeSetName: str) -> dict[str, Any]:
        status, reason = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        changes = [] if status != "CREATE_COMPLETE" else [_change("Modify", "WorkerGroup")]
        return {
            "ChangeSetId": ChangeSetName,
            "StackId": STACK_ID,
            "Status": status,
            "StatusReason": reason,
            "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
            "Changes": changes,
        }

    def delete_change_set(self, ChangeSetName: str) -> None:
        self.deleted.append(ChangeSetName)

    def delete_stack(self, StackName: str) -> None:
        self.deleted.append(StackName)


def _change(action: str, logical_id: str) -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": action,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": "prod-WorkerGroup-A9S8D7F6G5H4",
            "ResourceType": "AWS::AutoScaling::AutoScalingGroup",
            "Replacement": "False",
            "Scope": ["Properties"],
        },
    }


def make(cfn: FakeCloudFormation, kind: Any = "UPDATE") -> Any:
    sleeps: list[float] = []
    change_set = create_change_set(
        cfn,  # type: ignore[arg-type]
        stack_name="prod",
        kind=kind,
        template=TemplateSource(body="{}"),
        parameters={"ClusterSize": "8"},
        tags=[{"Key": "swarmstack-cluster", "Value": "prod"}],
        sleep=sleeps.append,
        clock=lambda: float(len(sleeps)),
    )
    return change_set, sleeps


def test_waits_until_computed_and_reads_the_changes() -> None:
    cfn = FakeCloudFormation(
        ("CREATE_PENDING", ""), ("CREATE_IN_PROGRESS", ""), ("CREATE_COMPLETE", "")
    )

    change_set, sleeps = make(cfn)

    assert not change_set.empty
    assert [(c.action, c.logical_id, c.replacement) for c in change_set.changes] == [
        ("Modify", "WorkerGroup", "False")
    ]
    assert len(sleeps) == 2
    assert cfn.created["Parameters"] == [{"ParameterKey": "ClusterSize", "ParameterValue": "8"}]
    assert "CAPABILITY_NAMED_IAM" in cfn.created["Capabilities"]


def test_no_changes_is_empty_not_an_error() -> None:
    reason = (
        "The submitted information didn't contain changes. "
        "Submit different information to create a change set."
    )
    change_set, _ = make(FakeCloudFormation(("FAILED", reason)))

    assert change_set.empty


def test_a_rejected_create_change_set_is_removed_with_its_empty_stack() -> None:
    reason = "Template format error: Unresolved resource dependencies [Subnet3]"
    cfn = FakeCloudFormation(("FAILED", reason))

    with pytest.raises(TemplateRejected, match="Unresolved resource dependencies"):
        make(cfn, kind="CREATE")

    assert cfn.deleted == [CHANGE_SET_ID, STACK_ID]
