"""The stack flows without click: StackDeployment and StackDeletion against moto's server.

The CLI tests (test_aws_stack.py) show what users see; these drive the objects the commands
drive, step by step, with recording callbacks instead of a terminal.
"""

from __future__ import annotations

import json

import boto3
import pytest

from swarmstack.aws import stack_template
from swarmstack.aws.events import StackEvent
from swarmstack.aws.session import AwsSettings
from swarmstack.aws.stack_flow import StackDeletion, StackDeployment, connect
from swarmstack.aws.stacks import describe_stack
from swarmstack.errors import ForeignStack, StackNotFound
from swarmstack.spec import ClusterSpec

from .test_aws_stack import small_template

SETTINGS = AwsSettings(region="us-east-1")


@pytest.fixture(autouse=True)
def small_stack(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        stack_template, "render_body", lambda spec: json.dumps(small_template(spec))
    )


def spec(name: str, workers: int = 1) -> ClusterSpec:
    return ClusterSpec.model_validate({"name": name, "manager_size": 1, "cluster_size": workers})


def status(name: str) -> str | None:
    stack = describe_stack(boto3.client("cloudformation"), name)
    return None if stack is None else stack.status


def test_a_launch_proposes_executes_watches_and_finds_the_nodes() -> None:
    said: list[str] = []
    deployment = StackDeployment.start(spec("alpha", 2), "launch", SETTINGS, info=said.append)

    proposal = deployment.propose()
    assert (proposal.kind, proposal.empty, proposal.region) == ("CREATE", False, "us-east-1")
    assert {c.logical_id for c in proposal.change_set.changes} >= {"ManagerGroup", "WorkerGroup"}
    assert said[-1].startswith("creating the change set (CREATE) for stack alpha in us-east-1")
    assert status("alpha") == "REVIEW_IN_PROGRESS"  # nothing runs before execute

    events: list[StackEvent] = []
    outcome = deployment.watch(deployment.execute(proposal), events.append)
    assert outcome.succeeded
    assert any(e.logical_id == "alpha" and e.status == "CREATE_COMPLETE" for e in events)
    stack, nodes = deployment.settled(proposal)
    assert stack.status == "CREATE_COMPLETE"
    assert sorted(n.role for n in nodes) == ["manager", "worker", "worker"]


def test_an_unchanged_spec_proposes_an_empty_change_set_which_is_discarded() -> None:
    first = StackDeployment.start(spec("beta"), "launch", SETTINGS)
    proposal = first.propose()
    assert first.watch(first.execute(proposal)).succeeded

    again = StackDeployment.start(spec("beta"), "update", SETTINGS)
    unchanged = again.propose()
    assert (unchanged.kind, unchanged.empty) == ("UPDATE", True)
    again.discard(unchanged)
    cfn = boto3.client("cloudformation")
    summaries = cfn.list_change_sets(StackName="beta")["Summaries"]
    assert [s["ChangeSetId"] for s in summaries] == [proposal.change_set.change_set_id]

    bigger = StackDeployment.start(spec("beta", 3), "update", SETTINGS).propose()
    assert not bigger.empty
    assert [(p.name, p.old, p.new) for p in bigger.changed_parameters] == [
        ("ClusterSize", "1", "3")
    ]


def test_a_discarded_create_leaves_no_stack_behind() -> None:
    deployment = StackDeployment.start(spec("gamma"), "launch", SETTINGS)
    deployment.discard(deployment.propose())
    assert status("gamma") in (None, "DELETE_COMPLETE")


def test_an_empty_shell_left_in_review_is_deleted_before_a_new_create() -> None:
    """An earlier run stopped between change set and execute: the next one starts afresh."""
    StackDeployment.start(spec("delta"), "launch", SETTINGS).propose()  # never executed
    assert status("delta") == "REVIEW_IN_PROGRESS"
    said: list[str] = []
    deployment = StackDeployment.start(spec("delta"), "launch", SETTINGS, info=said.append)

    proposal = deployment.propose()

    assert said[0] == "stack delta only holds an unexecuted change set; deleting it first"
    assert proposal.kind == "CREATE"
    assert deployment.watch(deployment.execute(proposal)).succeeded
    assert status("delta") == "CREATE_COMPLETE"


def test_update_of_a_missing_stack_is_not_found_and_creates_nothing() -> None:
    with pytest.raises(StackNotFound) as error:
        StackDeployment.start(spec("epsilon"), "update", SETTINGS).propose()
    assert error.value.problems == ("stack epsilon does not exist in us-east-1",)
    assert status("epsilon") is None


def test_a_deletion_removes_the_stack_and_reports_nothing_left() -> None:
    deployment = StackDeployment.start(spec("zeta"), "launch", SETTINGS)
    assert deployment.watch(deployment.execute(deployment.propose())).succeeded

    deletion = StackDeletion(connect(SETTINGS), "zeta")
    assert len(deletion.nodes()) == 2
    outcome = deletion.watch(deletion.start())
    assert outcome.status == "DELETE_COMPLETE"
    assert deletion.left_behind(outcome) == []


def test_a_stack_swarmstack_did_not_create_is_left_alone() -> None:
    cfn = boto3.client("cloudformation")
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cfn.create_stack(StackName="theirs", TemplateBody=json.dumps(body))
    with pytest.raises(ForeignStack):
        StackDeletion(connect(SETTINGS), "theirs")
    with pytest.raises(ForeignStack):
        StackDeployment.start(spec("theirs"), "launch", SETTINGS).propose()
    assert status("theirs") == "CREATE_COMPLETE"
