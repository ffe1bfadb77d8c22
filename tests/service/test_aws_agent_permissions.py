"""Least privilege of the node agent, as deployed: the full template creates its stack on moto,
then the policies IAM holds for each role (inline and attached, documents as CloudFormation
resolved them) are evaluated for the calls a node could make.

The evaluation is moto's own identity-policy evaluator (moto.iam.access_control.IAMPolicy, the
code moto's server runs when it enforces IAM): an explicit Deny wins, an Allow permits, nothing
is an implicit deny. Running the whole server with enforcement on (INITIAL_NO_AUTH_ACTION_COUNT)
would make every other call of the session need credentials; evaluating the stored documents
checks the same thing without that. The roles are found the way an instance gets them: its
launch template's instance profile.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.access_control import IAMPolicy, PermissionResult

from swarmstack.spec import ClusterSpec
from swarmstack.templates.aws import build_template, render_body

STACK = "prod"
REGION = "us-east-1"
PARAMETERS = f"arn:aws:ssm:{REGION}:{DEFAULT_ACCOUNT_ID}:parameter/swarmstack/{STACK}"
MANAGER_TOKEN = f"{PARAMETERS}/token/manager"
WORKER_TOKEN = f"{PARAMETERS}/token/worker"
SWARM_RECORD = f"{PARAMETERS}/swarm"


@pytest.fixture
def stack(aws_endpoint: str, public_image_parameters: str) -> str:
    """The full default template (1 manager, 1 worker), created through S3 as on AWS."""
    spec = ClusterSpec.model_validate({"manager_size": 1, "cluster_size": 1})
    body = render_body(build_template(spec)).body
    boto3.client("ec2").create_key_pair(KeyName="ops")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="prod.json", Body=body.encode())
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateURL="https://s3.amazonaws.com/templates/prod.json",
        Parameters=[{"ParameterKey": "KeyName", "ParameterValue": "ops"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    [described] = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    return STACK


def _role_of_instances(stack: str, role: str) -> str:
    """The IAM role an instance of the role's group runs with (launch template -> profile)."""
    group = boto3.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId=f"{role.capitalize()}AutoScalingGroup"
    )["StackResourceDetail"]["PhysicalResourceId"]
    [described] = boto3.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[group]
    )["AutoScalingGroups"]
    template = described["LaunchTemplate"]
    [version] = boto3.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=[str(template["Version"])]
    )["LaunchTemplateVersions"]
    profile_arn = version["LaunchTemplateData"]["IamInstanceProfile"]["Arn"]
    profile = boto3.client("iam").get_instance_profile(
        InstanceProfileName=profile_arn.rsplit("/", 1)[-1]
    )["InstanceProfile"]
    [iam_role] = profile["Roles"]
    return str(iam_role["RoleName"])


def _policies(role_name: str) -> list[dict[str, Any]]:
    """Every identity policy document of the role: inline and attached managed ones."""
    iam = boto3.client("iam")
    documents = [
        iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        documents.append(version["PolicyVersion"]["Document"])
    return [json.loads(d) if isinstance(d, str) else d for d in documents]


def _allowed(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    results = [IAMPolicy(json.dumps(d)).is_action_permitted(action, resource) for d in documents]
    if PermissionResult.DENIED in results:
        return False
    return PermissionResult.PERMITTED in results


def test_the_worker_role_reads_the_worker_token_and_never_the_manager_token(stack: str) -> None:
    worker = _policies(_role_of_instances(stack, "worker"))
    assert worker, "the worker role has policies"
    assert _allowed(worker, "ssm:GetParameter", WORKER_TOKEN)
    assert _allowed(worker, "ssm:GetParameter", SWARM_RECORD)
    # Every way to read the manager token: by name, in a batch, or by its path.
    assert not _allowed(worker, "ssm:GetParameter", MANAGER_TOKEN)
    assert not _allowed(worker, "ssm:GetParameters", MANAGER_TOKEN)
    assert not _allowed(worker, "ssm:GetParameterHistory", MANAGER_TOKEN)
    assert not _allowed(worker, "ssm:GetParametersByPath", f"{PARAMETERS}/token")
    assert not _allowed(worker, "ssm:GetParametersByPath", PARAMETERS)
    # Nor rewrite what the managers publish.
    assert not _allowed(worker, "ssm:PutParameter", SWARM_RECORD)
    assert not _allowed(worker, "ssm:PutParameter", WORKER_TOKEN)


def test_the_manager_role_reads_both_tokens_of_its_own_stack_only(stack: str) -> None:
    """The evaluation is not vacuous: the managers' role is allowed what workers are not."""
    manager = _policies(_role_of_instances(stack, "manager"))
    assert _allowed(manager, "ssm:GetParameter", MANAGER_TOKEN)
    assert _allowed(manager, "ssm:GetParameter", WORKER_TOKEN)
    other_stack = MANAGER_TOKEN.replace(f"/swarmstack/{STACK}/", "/swarmstack/other/")
    assert not _allowed(manager, "ssm:GetParameter", other_stack)
