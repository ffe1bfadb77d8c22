"""The moto fixture itself: boto3 reaches the loopback server with fake credentials."""

from __future__ import annotations

import boto3


def test_boto3_reaches_the_loopback_moto_server(aws_endpoint: str) -> None:
    assert aws_endpoint.startswith("http://127.0.0.1:")
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]
    ids = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert vpc["VpcId"] in ids


def test_each_test_starts_with_a_clean_backend(aws_endpoint: str) -> None:
    ec2 = boto3.client("ec2")
    assert not [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.9.0.0/16"]
