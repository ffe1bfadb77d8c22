"""Shared storage on a real (moto) stack: the EFS file system, a mount target per subnet, NFS
only from the nodes' group, and `swarmstack volume mount-string` reading the stack outputs.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from swarmstack.aws.stacks import stack_tags
from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode
from swarmstack.spec import ClusterSpec
from swarmstack.templates.aws import build_template, render_body


def create_storage_stack(name: str, **parameters: str) -> dict[str, str]:
    """The real template with shared storage (a key pair "ops" must exist); its outputs."""
    spec = ClusterSpec.model_validate({"name": name, "shared_storage": True, "cluster_size": 1})
    cloudformation = boto3.client("cloudformation")
    # Over the inline limit for CloudFormation (launch-stack uploads it); moto takes it inline.
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=render_body(build_template(spec)).body,
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in {"KeyName": "ops", **parameters}.items()
        ],
        Capabilities=["CAPABILITY_IAM"],
        # Tagged as launch-stack tags it: delete-stack deletes only swarmstack stacks.
        Tags=stack_tags(name, {}),  # type: ignore[arg-type]
    )
    [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.fixture
def storage_stack(aws_endpoint: str, public_image_parameters: str) -> dict[str, str]:
    boto3.client("ec2").create_key_pair(KeyName="ops")
    zones = {f"AvailabilityZone{n}": f"us-east-1{z}" for n, z in ((1, "a"), (2, "b"), (3, "c"))}
    return create_storage_stack("data", **zones) | {"endpoint": aws_endpoint}


def test_an_existing_vpc_gets_a_mount_target_in_each_given_subnet(
    aws_endpoint: str, public_image_parameters: str
) -> None:
    ec2 = boto3.client("ec2")
    ec2.create_key_pair(KeyName="ops")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.40.0.0/24", "us-east-1a"), ("10.40.1.0/24", "us-east-1b"))
    ]
    outputs = create_storage_stack("shared", Vpc=vpc, Subnets=",".join(subnets))
    targets = boto3.client("efs").describe_mount_targets(
        FileSystemId=outputs["CloudStorEfsFileSystemId"]
    )["MountTargets"]
    assert sorted(t["SubnetId"] for t in targets) == sorted(subnets)


def test_stack_has_an_encrypted_file_system_with_a_mount_target_per_subnet(
    storage_stack: dict[str, str],
) -> None:
    efs = boto3.client("efs")
    file_system_id = storage_stack["CloudStorEfsFileSystemId"]
    [file_system] = efs.describe_file_systems(FileSystemId=file_system_id)["FileSystems"]
    assert file_system["Encrypted"] is True
    targets = efs.describe_mount_targets(FileSystemId=file_system_id)["MountTargets"]
    subnets = boto3.client("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [storage_stack["VpcId"]]}]
    )["Subnets"]
    assert sorted(t["SubnetId"] for t in targets) == sorted(s["SubnetId"] for s in subnets)
    assert storage_stack["CloudStorEfsDnsName"] == f"{file_system_id}.efs.us-east-1.amazonaws.com"


def test_nfs_is_open_only_to_the_node_security_group(storage_stack: dict[str, str]) -> None:
    efs = boto3.client("efs")
    [target, *_] = efs.describe_mount_targets(
        FileSystemId=storage_stack["CloudStorEfsFileSystemId"]
    )["MountTargets"]
    groups = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])
    [group] = boto3.client("ec2").describe_security_groups(GroupIds=groups["SecurityGroups"])[
        "SecurityGroups"
    ]
    rules: list[Any] = group["IpPermissions"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules] == [("tcp", 2049, 2049)]
    sources = [pair["GroupId"] for pair in rules[0]["UserIdGroupPairs"]]
    assert sources == [storage_stack["NodeSecurityGroupId"]]
    assert rules[0]["IpRanges"] == []


def test_mount_string_comes_from_the_stack_outputs(storage_stack: dict[str, str]) -> None:
    result = CliRunner().invoke(
        cli,
        ["volume", "mount-string", "pgdata", "--name", "data", "--target", "/var/lib/pg"],
        env={"AWS_ENDPOINT_URL": storage_stack["endpoint"]},
    )
    assert result.exit_code == 0, result.output
    server = storage_stack["CloudStorEfsDnsName"]
    assert result.stdout.strip() == (
        "type=volume,source=pgdata,target=/var/lib/pg,volume-driver=local,volume-opt=type=nfs,"
        f'volume-opt=device=:/pgdata,"volume-opt=o=addr={server},nfsvers=4.1,rsize=1048576,'
        'wsize=1048576,hard,timeo=600,retrans=2,noresvport"'
    )
    assert "mkdir -p /share/pgdata" in result.stderr


def _delete_stack(storage_stack: dict[str, str], *options: str) -> Any:
    return CliRunner().invoke(
        cli,
        ["-o", "json", "aws", "delete-stack", "--name", "data", "--region", "us-east-1",
         *options],
        env={"AWS_ENDPOINT_URL": storage_stack["endpoint"]},
    )  # fmt: skip


def _file_systems() -> list[str]:
    return [f["FileSystemId"] for f in boto3.client("efs").describe_file_systems()["FileSystems"]]


def test_delete_stack_keeps_the_file_system_and_says_how_to_delete_it(
    storage_stack: dict[str, str],
) -> None:
    file_system_id = storage_stack["CloudStorEfsFileSystemId"]
    result = _delete_stack(storage_stack, "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"EFS file system {file_system_id} with the service volumes is kept" in result.stderr
    assert f"aws efs delete-file-system --file-system-id {file_system_id}" in result.stderr
    out = json.loads(result.stdout)
    assert (out["result"], out["volumes"]) == ("deleted", "kept")
    assert file_system_id in {row["physical_id"] for row in out["left_behind"]}
    assert _file_systems() == [file_system_id]  # DeletionPolicy Retain: the data stays
    assert (
        boto3.client("efs").describe_mount_targets(FileSystemId=file_system_id)["MountTargets"]
        == []
    )


def test_delete_volumes_deletes_the_file_system_after_the_stack(
    storage_stack: dict[str, str],
) -> None:
    file_system_id = storage_stack["CloudStorEfsFileSystemId"]
    result = _delete_stack(storage_stack, "--delete-volumes", "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"EFS file system {file_system_id} with the service volumes will be deleted" in (
        result.stderr
    )
    out = json.loads(result.stdout)
    assert (out["result"], out["volumes"]) == ("deleted", "deleted")
    assert file_system_id not in {row["physical_id"] for row in out["left_behind"]}
    assert _file_systems() == []


def test_delete_volumes_asks_about_the_data_and_refuses_no_wait(
    storage_stack: dict[str, str],
) -> None:
    result = _delete_stack(storage_stack, "--delete-volumes")  # no terminal, no --yes
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "and the data of its service volumes: needs confirmation" in result.stderr
    result = _delete_stack(storage_stack, "--delete-volumes", "--no-wait", "--yes")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "cannot be combined with --no-wait" in result.stderr
    assert _file_systems() == [storage_stack["CloudStorEfsFileSystemId"]]
    stacks = boto3.client("cloudformation").describe_stacks(StackName="data")["Stacks"]
    assert stacks[0]["StackStatus"] == "CREATE_COMPLETE"
