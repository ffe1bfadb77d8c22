"""The rendered AWS template creates a real stack (moto's server on loopback): both Auto
Scaling groups launch their instances, each tagged with its cluster and swarm role.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

from swarmstack.spec import ClusterSpec
from swarmstack.templates.aws import build_template, render_body


def _spec(**values: Any) -> ClusterSpec:
    return ClusterSpec.model_validate(values)


def _body(spec: ClusterSpec) -> str:
    """Exactly what `swarmstack aws template --for-s3` prints for the spec."""
    return render_body(build_template(spec)).body


@pytest.fixture
def account(aws_endpoint: str, public_image_parameters: str) -> dict[str, Any]:
    """A key pair and the public image parameters, as a user's account would have them."""
    boto3.client("ec2").create_key_pair(KeyName="ops")
    return {"endpoint": aws_endpoint, "image": public_image_parameters}


def _create(name: str, body: str, **parameters: str) -> dict[str, str]:
    # Through S3 as on AWS (the template is over the 51,200-byte inline limit; moto would take
    # it inline, AWS would not).
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key=f"{name}.json", Body=body.encode())
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateURL=f"https://s3.amazonaws.com/templates/{name}.json",
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in {"KeyName": "ops", **parameters}.items()
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _running_instances(cluster: str) -> list[Any]:
    pages = boto3.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:swarmstack-cluster", "Values": [cluster]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    return [i for r in pages["Reservations"] for i in r["Instances"]]


def _tags(instance: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def _group_instances(group: str) -> set[str]:
    [found] = boto3.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[group]
    )["AutoScalingGroups"]
    return {i["InstanceId"] for i in found["Instances"]}


def test_default_template_launches_manager_size_plus_cluster_size_tagged_instances(
    account: dict[str, Any],
) -> None:
    spec = _spec(manager_size=3, cluster_size=4)
    outputs = _create(
        "swarm",
        _body(spec),
        AvailabilityZone1="us-east-1a",
        AvailabilityZone2="us-east-1b",
        AvailabilityZone3="us-east-1c",
    )

    instances = _running_instances("swarm")
    roles = Counter(_tags(i)["swarmstack-role"] for i in instances)
    assert roles == {"manager": 3, "worker": 4}
    for instance in instances:
        tags = _tags(instance)
        assert tags["swarmstack-log-group"] == outputs["LogGroupName"]
        assert tags["swarmstack-system-prune"] == "no"
        assert instance["ImageId"] == account["image"]
        assert instance["KeyName"] == "ops"

    by_role = {
        role: {i["InstanceId"] for i in instances if _tags(i)["swarmstack-role"] == role}
        for role in ("manager", "worker")
    }
    assert _group_instances(outputs["ManagerAutoScalingGroup"]) == by_role["manager"]
    assert _group_instances(outputs["WorkerAutoScalingGroup"]) == by_role["worker"]

    subnets = boto3.client("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [outputs["VpcId"]]}]
    )["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == [
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    ]
    assert outputs["DefaultDNSTarget"].endswith(".elb.amazonaws.com")
    assert outputs["SshHint"].startswith("SSH is closed")


def test_parameters_choose_an_existing_vpc_and_turn_cloudwatch_off(
    account: dict[str, Any],
) -> None:
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.40.0.0/24", "us-east-1a"), ("10.40.1.0/24", "us-east-1b"))
    ]
    spec = _spec(manager_size=5, enable_system_prune=True, enable_cloudwatch_logs=False)
    outputs = _create(
        "prod",
        _body(spec),
        Vpc=vpc,
        Subnets=",".join(subnets),
        ManagerSize="1",
        ClusterSize="2",
        SshCidr="203.0.113.0/24",
    )

    assert outputs["VpcId"] == vpc
    assert "LogGroupName" not in outputs
    assert "203.0.113.0/24" in outputs["SshHint"]
    instances = _running_instances("prod")
    assert Counter(_tags(i)["swarmstack-role"] for i in instances) == {"manager": 1, "worker": 2}
    for instance in instances:
        assert instance["SubnetId"] in subnets
        # Empty with CloudWatch logs off: the node agent keeps the local log driver.
        assert _tags(instance)["swarmstack-log-group"] == ""
        assert _tags(instance)["swarmstack-system-prune"] == "yes"
    created_vpcs = ec2.describe_vpcs(
        Filters=[{"Name": "tag:swarmstack-cluster", "Values": ["prod"]}]
    )
    assert created_vpcs["Vpcs"] == []


def test_two_zones_give_two_subnets_and_no_ports_no_load_balancer(
    account: dict[str, Any],
) -> None:
    spec = _spec(zones=["us-east-1a", "us-east-1b"], published_ports=[], cluster_size=2)
    outputs = _create("edge", _body(spec))  # the zones come from the spec's defaults

    subnets = boto3.client("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [outputs["VpcId"]]}]
    )["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b"]
    assert "DefaultDNSTarget" not in outputs
    assert boto3.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    roles = Counter(_tags(i)["swarmstack-role"] for i in _running_instances("edge"))
    assert roles == {"manager": 3, "worker": 2}


def test_the_yaml_form_creates_the_same_stack_inline(account: dict[str, Any]) -> None:
    # `aws template -o yaml` (short-form functions) fits --template-body: created inline here,
    # it launches what the JSON form launches, and its outputs resolve the same functions.
    spec = _spec(manager_size=1, cluster_size=2)
    body = render_body(build_template(spec), "yaml")
    assert body.fits_inline
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName="short",
        TemplateBody=body.body,
        Parameters=[{"ParameterKey": "KeyName", "ParameterValue": "ops"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    [stack] = cloudformation.describe_stacks(StackName="short")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    instances = _running_instances("short")
    assert Counter(_tags(i)["swarmstack-role"] for i in instances) == {"manager": 1, "worker": 2}
    assert {_tags(i)["swarmstack-log-group"] for i in instances} == {outputs["LogGroupName"]}
    assert _group_instances(outputs["ManagerAutoScalingGroup"]) == {
        i["InstanceId"] for i in instances if _tags(i)["swarmstack-role"] == "manager"
    }
    assert outputs["DefaultDNSTarget"].endswith(".elb.amazonaws.com")


def test_the_full_template_updates_and_deletes(account: dict[str, Any]) -> None:
    # moto skips the delete of route tables, internet gateways and their attachments, and
    # DeleteStack failed on the VPC: the fixture's corrections delete them as AWS does.
    outputs = _create("whole", _body(_spec(manager_size=1, cluster_size=1)))
    cloudformation = boto3.client("cloudformation")
    cloudformation.update_stack(
        StackName="whole",
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "KeyName", "UsePreviousValue": True},
            {"ParameterKey": "ClusterSize", "ParameterValue": "2"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    [stack] = cloudformation.describe_stacks(StackName="whole")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    roles = Counter(_tags(i)["swarmstack-role"] for i in _running_instances("whole"))
    assert roles == {"manager": 1, "worker": 2}

    cloudformation.delete_stack(StackName="whole")
    [stack] = cloudformation.describe_stacks(StackName=stack["StackId"])["Stacks"]
    assert stack["StackStatus"] == "DELETE_COMPLETE", stack.get("StackStatusReason")
    # What delete-stack reads afterwards (moto re-created every resource on this call).
    rows = cloudformation.describe_stack_resources(StackName=stack["StackId"])["StackResources"]
    assert {row["ResourceStatus"] for row in rows} == {"DELETE_COMPLETE"}
    ec2 = boto3.client("ec2")
    vpc: Any = [{"Name": "vpc-id", "Values": [outputs["VpcId"]]}]
    assert ec2.describe_vpcs(Filters=vpc)["Vpcs"] == []
    assert ec2.describe_route_tables(Filters=vpc)["RouteTables"] == []
    assert ec2.describe_subnets(Filters=vpc)["Subnets"] == []
    ours: Any = [{"Name": "tag:swarmstack-cluster", "Values": ["whole"]}]
    assert ec2.describe_internet_gateways(Filters=ours)["InternetGateways"] == []
    assert boto3.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert _running_instances("whole") == []
