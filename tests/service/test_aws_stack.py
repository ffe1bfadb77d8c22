"""launch-stack, update-stack, delete-stack and status against moto's server on loopback.

The CLI runs its real code paths (boto3 over HTTP to moto); only the template body comes from
a small test template: a VPC, a launch template and the two Auto Scaling groups, sized by the
ManagerSize/ClusterSize parameters whose defaults are the spec's, as the real builder does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from swarmstack.aws import stack_flow, stack_template
from swarmstack.aws.events import StackEvent, WatchResult
from swarmstack.aws.stacks import Stack, describe_stack
from swarmstack.aws.template_upload import INLINE_LIMIT_BYTES, default_bucket_name
from swarmstack.cli.main import cli
from swarmstack.cloudinit import generate_host_keys
from swarmstack.errors import ExitCode
from swarmstack.provisioners.inventory import Host, SshSettings
from swarmstack.provisioners.local.sim import corrections
from swarmstack.spec import ClusterSpec

MOTO_AMI = "ami-12c6146b"  # one of the images moto's EC2 knows
ASG = "AWS::AutoScaling::AutoScalingGroup"
STACK = "AWS::CloudFormation::Stack"
CANCELLED = "Resource creation cancelled"


def small_template(spec: ClusterSpec, padding: int = 0) -> dict[str, Any]:
    group_common = {
        "MinSize": "0",
        "MaxSize": "1000",
        "VPCZoneIdentifier": [{"Ref": "Subnet"}],
        "LaunchTemplate": {
            "LaunchTemplateId": {"Ref": "NodeLaunchTemplate"},
            "Version": {"Fn::GetAtt": ["NodeLaunchTemplate", "LatestVersionNumber"]},
        },
    }
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"swarmstack test stack {spec.name}",
        "Parameters": {
            "ManagerSize": {"Type": "Number", "Default": spec.manager_size},
            "ClusterSize": {"Type": "Number", "Default": spec.cluster_size},
            "InstanceType": {"Type": "String", "Default": spec.instance_type or "t3.small"},
        },
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "172.31.0.0/16"}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": "172.31.0.0/20",
                    "AvailabilityZone": "us-east-1a",
                },
            },
            "NodeLaunchTemplate": {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {
                    "LaunchTemplateData": {
                        "ImageId": MOTO_AMI,
                        "InstanceType": {"Ref": "InstanceType"},
                    }
                },
            },
            # As in the real template: the groups wait for their nodes' Ready signals.
            "ManagerGroup": {
                "Type": "AWS::AutoScaling::AutoScalingGroup",
                "Properties": {**group_common, "DesiredCapacity": {"Ref": "ManagerSize"}},
                "CreationPolicy": {"ResourceSignal": {"Count": {"Ref": "ManagerSize"}}},
            },
            "WorkerGroup": {
                "Type": "AWS::AutoScaling::AutoScalingGroup",
                "Properties": {**group_common, "DesiredCapacity": {"Ref": "ClusterSize"}},
                "CreationPolicy": {"ResourceSignal": {"Count": {"Ref": "ClusterSize"}}},
            },
        },
        "Outputs": {
            "VpcId": {"Value": {"Ref": "Vpc"}},
            "ManagerGroupName": {"Value": {"Ref": "ManagerGroup"}},
            "WorkerGroupName": {"Value": {"Ref": "WorkerGroup"}},
        },
    }
    if padding:  # console metadata is free text: an honest way to grow a template
        template["Metadata"] = {"Notes": "x" * padding}
    return template


@pytest.fixture
def use_template(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Launch the small template; `use_template(n)` pads it with n bytes of metadata."""

    def install(padding: int = 0) -> None:
        def render(spec: ClusterSpec) -> str:
            return json.dumps(small_template(spec, padding), sort_keys=True)

        monkeypatch.setattr(stack_template, "render_body", render)

    install(0)
    return install


def swarmstack(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def launch(*args: str) -> Result:
    return swarmstack(
        "-o", "json", "aws", "launch-stack", "--region", "us-east-1", "--yes", "--no-bootstrap",
        *args,
    )  # fmt: skip


def instance_counts(stack_name: str) -> dict[str, int]:
    """Running instances per swarm role, read from AWS rather than from our own result."""
    cfn = boto3.client("cloudformation")
    autoscaling = boto3.client("autoscaling")
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    counts = {}
    for row in resources:
        if row["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup":
            group = autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=[row["PhysicalResourceId"]]
            )["AutoScalingGroups"][0]
            counts[row["LogicalResourceId"]] = len(group["Instances"])
    return counts


def pending_change_sets(stack_name: str) -> list[str]:
    """Change sets not executed (moto keeps executed ones listed; AWS removes them)."""
    summaries = boto3.client("cloudformation").list_change_sets(StackName=stack_name)
    return [
        s["ChangeSetName"]
        for s in summaries["Summaries"]
        if s.get("ExecutionStatus") != "EXECUTE_COMPLETE"
    ]


@pytest.mark.usefixtures("use_template")
def test_launch_creates_the_stack_with_managers_and_workers(aws_endpoint: str) -> None:
    result = launch("--name", "alpha", "--manager-size", "3", "--cluster-size", "2")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["result"] == "created"
    assert data["status"] == "CREATE_COMPLETE"
    assert data["change_set"]["type"] == "CREATE"
    assert {c["logical_id"] for c in data["change_set"]["changes"]} >= {
        "ManagerGroup",
        "WorkerGroup",
    }
    assert data["node_counts"] == {"manager": 3, "worker": 2}
    assert all(n["private_ip"] and n["state"] == "running" for n in data["nodes"])
    # The template's outputs, computed for a stack made through a change set.
    groups = {
        row["LogicalResourceId"]: row["PhysicalResourceId"]
        for row in boto3.client("cloudformation").describe_stack_resources(StackName="alpha")[
            "StackResources"
        ]
    }
    assert data["outputs"]["ManagerGroupName"] == groups["ManagerGroup"]
    assert data["outputs"]["WorkerGroupName"] == groups["WorkerGroup"]
    assert data["outputs"]["VpcId"] == groups["Vpc"]
    assert data["bootstrap"]["status"] == "skipped"
    assert data["operation"]["status"] == "CREATE_COMPLETE"
    assert data["operation"]["first_failure"] is None
    assert instance_counts("alpha") == {"ManagerGroup": 3, "WorkerGroup": 2}
    stack = boto3.client("cloudformation").describe_stacks(StackName="alpha")["Stacks"][0]
    assert {"Key": "swarmstack-cluster", "Value": "alpha"} in stack["Tags"]


@pytest.mark.usefixtures("use_template")
def test_launch_again_with_more_workers_updates_the_stack(aws_endpoint: str) -> None:
    assert launch("--name", "beta", "--manager-size", "1", "--cluster-size", "1").exit_code == 0

    result = launch("--name", "beta", "--manager-size", "1", "--cluster-size", "4")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["change_set"]["type"] == "UPDATE"
    assert data["result"] == "updated"
    assert data["node_counts"] == {"manager": 1, "worker": 4}
    assert instance_counts("beta") == {"ManagerGroup": 1, "WorkerGroup": 4}


@pytest.mark.usefixtures("use_template")
def test_plan_shows_the_change_set_and_changes_nothing(aws_endpoint: str) -> None:
    result = swarmstack(
        "aws", "launch-stack", "--name", "gamma", "--region", "us-east-1", "--plan",
        "--cluster-size", "2",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "CREATE change set: 5 resource change(s)" in result.stdout
    assert "WorkerGroup" in result.stdout
    assert "AWS::AutoScaling::AutoScalingGroup" in result.stdout
    cfn = boto3.client("cloudformation")
    assert not [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == "gamma"]
    assert boto3.client("ec2").describe_instances()["Reservations"] == []


@pytest.mark.usefixtures("use_template")
def test_plan_on_an_existing_stack_leaves_it_as_it_was(aws_endpoint: str) -> None:
    assert launch("--name", "delta", "--manager-size", "1", "--cluster-size", "1").exit_code == 0

    result = launch("--name", "delta", "--manager-size", "1", "--cluster-size", "3", "--plan")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["result"] == "planned"
    assert data["change_set"]["type"] == "UPDATE"
    assert data["change_set"]["parameter_changes"] == [
        {"name": "ClusterSize", "old": "1", "new": "3"}
    ]
    assert instance_counts("delta") == {"ManagerGroup": 1, "WorkerGroup": 1}
    assert pending_change_sets("delta") == []


@pytest.mark.usefixtures("use_template")
def test_an_identical_launch_reports_no_changes(aws_endpoint: str) -> None:
    args = ("--name", "epsilon", "--manager-size", "1", "--cluster-size", "0")
    assert launch(*args).exit_code == 0

    result = launch(*args)

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["result"] == "no changes"
    text = swarmstack("aws", "launch-stack", "--region", "us-east-1", "--yes", *args)
    assert text.exit_code == 0
    assert "stack epsilon: no changes" in text.stdout
    assert pending_change_sets("epsilon") == []


def test_a_template_over_the_inline_limit_goes_through_s3(
    aws_endpoint: str, use_template: Callable[[int], None]
) -> None:
    use_template(INLINE_LIMIT_BYTES + 1000)

    result = launch("--name", "zeta", "--manager-size", "1", "--cluster-size", "1")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    bucket = default_bucket_name("123456789012", "us-east-1")  # moto's account
    assert data["template_url"].startswith(f"https://{bucket}.s3.us-east-1.amazonaws.com/")
    assert data["node_counts"] == {"manager": 1, "worker": 1}
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1
    assert s3.head_object(Bucket=bucket, Key=keys[0])["ContentLength"] > INLINE_LIMIT_BYTES
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_a_given_template_bucket_is_used(
    aws_endpoint: str, use_template: Callable[[int], None]
) -> None:
    use_template(INLINE_LIMIT_BYTES)
    boto3.client("s3").create_bucket(Bucket="my-templates")

    result = launch(
        "--name", "eta", "--manager-size", "1", "--cluster-size", "0",
        "--template-bucket", "my-templates",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["template_url"].startswith("https://my-templates.s3.")


@pytest.mark.usefixtures("use_template")
def test_delete_removes_the_stack_and_status_reports_it_gone(aws_endpoint: str) -> None:
    assert launch("--name", "theta", "--manager-size", "1", "--cluster-size", "1").exit_code == 0
    status = swarmstack("-o", "json", "aws", "status", "--name", "theta", "--region", "us-east-1")
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["node_counts"] == {"manager": 1, "worker": 1}

    deleted = swarmstack(
        "-o", "json", "aws", "delete-stack", "--name", "theta", "--region", "us-east-1", "--yes"
    )  # fmt: skip

    assert deleted.exit_code == 0, deleted.stderr
    assert json.loads(deleted.stdout)["result"] == "deleted"
    cfn = boto3.client("cloudformation")
    assert not [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == "theta"]
    gone = swarmstack("aws", "status", "--name", "theta", "--region", "us-east-1")
    assert gone.exit_code == ExitCode.FAILED
    assert "error: stack theta does not exist in us-east-1" in gone.stderr


@pytest.mark.usefixtures("use_template")
def test_delete_without_a_terminal_and_without_yes_refuses(aws_endpoint: str) -> None:
    assert launch("--name", "iota", "--manager-size", "1", "--cluster-size", "0").exit_code == 0

    result = swarmstack("aws", "delete-stack", "--name", "iota", "--region", "us-east-1")

    assert result.exit_code == ExitCode.USAGE
    assert "needs confirmation, and stdin is not a terminal" in result.stderr
    assert boto3.client("cloudformation").describe_stacks(StackName="iota")["Stacks"]


@pytest.mark.usefixtures("use_template")
def test_missing_credentials_are_one_line_and_exit_1(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    result = launch("--name", "kappa")

    assert result.exit_code == ExitCode.FAILED
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: no AWS credentials found"]
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("use_template")
def test_a_bad_stack_name_is_rejected_before_any_aws_call(aws_endpoint: str) -> None:
    result = launch("--name", "Bad_Name")

    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("error: --name=Bad_Name: must be 1-32 characters")
    assert len(result.stderr.strip().splitlines()) == 1
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []


@pytest.mark.usefixtures("use_template")
def test_update_of_a_missing_stack_is_stack_not_found(aws_endpoint: str) -> None:
    result = swarmstack(
        "aws", "update-stack", "--name", "lambda", "--region", "us-east-1", "--yes"
    )  # fmt: skip

    assert result.exit_code == ExitCode.FAILED
    assert "error: stack lambda does not exist in us-east-1" in result.stderr


@pytest.mark.usefixtures("use_template")
def test_a_stack_not_made_by_swarmstack_is_left_alone(aws_endpoint: str) -> None:
    cfn = boto3.client("cloudformation")
    body = json.dumps(
        small_template(
            ClusterSpec.model_validate({"name": "mu", "manager_size": 1, "cluster_size": 0})
        )
    )
    cfn.create_stack(StackName="mu", TemplateBody=body)

    result = launch("--name", "mu", "--manager-size", "1", "--cluster-size", "2")

    assert result.exit_code == ExitCode.FAILED
    assert "error: stack mu exists and was not created by swarmstack" in result.stderr
    assert instance_counts("mu") == {"ManagerGroup": 1, "WorkerGroup": 0}


@pytest.mark.usefixtures("use_template")
def test_update_stack_updates_an_existing_stack(aws_endpoint: str) -> None:
    assert launch("--name", "xi", "--manager-size", "1", "--cluster-size", "0").exit_code == 0

    result = swarmstack(
        "-o", "json", "aws", "update-stack", "--name", "xi", "--region", "us-east-1", "--yes",
        "--no-bootstrap", "--manager-size", "3", "--cluster-size", "0",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["node_counts"] == {"manager": 3, "worker": 0}
    assert instance_counts("xi") == {"ManagerGroup": 3, "WorkerGroup": 0}


@pytest.mark.usefixtures("use_template")
def test_launch_with_ssh_bootstrap_prints_the_change_set_then_the_nodes_and_hands_them_over(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # moto's instances have made-up addresses: record the hand-off instead of connecting.
    handed: dict[str, Any] = {}

    def record(spec: object, hosts: list[Host], ssh: SshSettings, progress: object) -> Any:
        handed.update(hosts=hosts, ssh=ssh)
        return {"status": "recorded"}

    monkeypatch.setattr("swarmstack.aws.handoff.bootstrap_hosts", record)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    consoles = BootedConsoles()
    monkeypatch.setattr(corrections, "INSTANCE_CONSOLES", consoles)
    result = swarmstack(
        "aws", "launch-stack", "--name", "omicron", "--region", "us-east-1", "--yes",
        "--manager-size", "1", "--cluster-size", "2",
        "--ssh-bootstrap", "--ssh-cidr", "203.0.113.0/24",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.index("CREATE change set") < out.index("stack omicron: CREATE_COMPLETE")
    assert "ROLE" in out
    assert "PRIVATE IP" in out
    assert out.count("worker ") == 2
    assert out.count("manager ") == 1
    assert "CREATE_COMPLETE" in result.stderr  # the streamed stack events
    # With --ssh-bootstrap every running node goes to the SSH bootstrap, advertising its
    # private address, with host keys checked against the cluster's own known_hosts.
    hosts: list[Host] = handed["hosts"]
    assert sorted(h.role for h in hosts) == ["manager", "worker", "worker"]
    assert all(h.private_address and h.hostname and h.hostname.startswith("i-") for h in hosts)
    ssh: SshSettings = handed["ssh"]
    assert ssh.user == "admin"
    assert ssh.known_hosts == tmp_path / "swarmstack" / "omicron" / "known_hosts"
    assert not ssh.trust_on_first_use
    # ... and each node's key, as its console showed it, pinned there before the hand-off.
    pinned = ssh.known_hosts.read_text().splitlines()
    assert sorted(pinned) == sorted(
        f"{address} {consoles.keys_of[host.hostname or '']}"
        for host in hosts
        for address in {host.address, host.private_address}
    )


class BootedConsoles(dict[str, str]):
    """Each instance's console as cloud-init leaves it, with a fresh host key per instance
    (moto launches them during the command, so they are made when first read)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys_of: dict[str, str] = {}

    def get(self, instance_id: str, default: object = None) -> str:
        if instance_id not in self.keys_of:
            public = generate_host_keys().ed25519_public.split()
            self.keys_of[instance_id] = " ".join(public[:2])
        key = self.keys_of[instance_id]
        return (
            "[    0.000000] Linux version 6.1.0-26-cloud-amd64\n"
            f"-----BEGIN SSH HOST KEY KEYS-----\n{key} root@{instance_id}\n"
            "-----END SSH HOST KEY KEYS-----\n"
        )


@pytest.mark.usefixtures("use_template")
def test_launch_needs_no_ssh_and_lists_the_nodes_that_signalled_ready(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_ssh(*args: object, **kwargs: object) -> Any:
        raise AssertionError("launch-stack used SSH")

    monkeypatch.setattr("swarmstack.aws.handoff.bootstrap_hosts", no_ssh)
    monkeypatch.setattr("swarmstack.handoff.bootstrap_hosts", no_ssh)
    text = swarmstack(
        "aws", "launch-stack", "--name", "sigma", "--region", "us-east-1", "--yes",
        "--manager-size", "3", "--cluster-size", "2",
    )  # fmt: skip
    assert text.exit_code == 0, text.stderr
    assert "swarm formed by the nodes: 3 manager(s) and 2 worker(s) signalled Ready" in (
        text.stderr
    )
    assert "SWARM" in text.stdout
    assert text.stdout.count(" ready") == 5
    assert "have not signalled" not in text.stderr

    result = launch("--name", "sigma", "--manager-size", "3", "--cluster-size", "4")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["swarm"] == {
        "formed_by": "nodes",
        "ready": 7,
        "nodes": 7,
        "ready_managers": 3,
        "ready_workers": 4,
    }
    assert all(node["signalled_ready"] for node in data["nodes"])
    assert data["bootstrap"] == {"status": "skipped", "reason": "the nodes formed the swarm"}


@pytest.mark.usefixtures("use_template")
def test_instances_that_never_signalled_are_named(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stack whose groups do not wait for signals (an older template): nothing is claimed.
    monkeypatch.setattr(
        "tests.service.conftest.SIGNAL_REASON", "something else about {}", raising=True
    )
    result = launch("--name", "tau", "--manager-size", "1", "--cluster-size", "0")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["swarm"]["ready"] == 0
    assert "1 instance(s) have not signalled Ready: i-" in result.stderr


@pytest.mark.usefixtures("use_template")
def test_ssh_bootstrap_without_ssh_cidr_is_refused_before_any_resource(aws_endpoint: str) -> None:
    result = launch("--name", "upsilon", "--ssh-bootstrap")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "error: --ssh-bootstrap needs ssh_cidr" in result.stderr
    stacks = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackName"] for s in stacks if s["StackName"] == "upsilon"] == []
    assert boto3.client("s3").list_buckets()["Buckets"] == []  # no template uploaded either


@pytest.mark.usefixtures("use_template")
def test_the_resume_hint_repeats_the_endpoint_and_the_profile(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile sim]\nregion = us-east-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[sim]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    result = launch(
        "--name", "phi2", "--manager-size", "1", "--cluster-size", "0", "--no-wait",
        "--endpoint-url", aws_endpoint, "--profile", "sim",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (
        "swarmstack aws status --name phi2 --region us-east-1 --wait "
        f"--endpoint-url {aws_endpoint} --profile sim"
    ) in result.stderr


@pytest.mark.usefixtures("use_template")
def test_no_wait_returns_after_starting_and_says_how_to_watch(aws_endpoint: str) -> None:
    result = launch("--name", "pi", "--manager-size", "1", "--cluster-size", "0", "--no-wait")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["result"] == "create started"
    assert "swarmstack aws status --name pi --region us-east-1 --wait" in result.stderr


@pytest.mark.usefixtures("use_template")
def test_ctrl_c_stops_watching_without_cancelling_and_exits_130(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(stack_flow, "watch_stack", interrupted)

    result = launch("--name", "rho", "--manager-size", "1", "--cluster-size", "1")

    assert result.exit_code == ExitCode.INTERRUPTED
    assert "error: stopped watching stack rho; the operation continues" in result.stderr
    assert "swarmstack aws status --name rho --region us-east-1 --wait" in result.stderr
    stack = boto3.client("cloudformation").describe_stacks(StackName="rho")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.usefixtures("use_template")
def test_a_failed_operation_names_the_first_failed_resource_and_exits_1(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto never fails a stack, so the watch result is the one thing replaced here."""
    when = datetime(2026, 11, 27, 21, 4, 41, tzinfo=UTC)

    def failed(cfn: Any, stack_id: str, **kwargs: Any) -> WatchResult:
        events = [
            StackEvent("e1", when, "WorkerGroup", ASG, "CREATE_FAILED", "vCPU limit", "w"),
            StackEvent("e2", when, "ManagerGroup", ASG, "CREATE_FAILED", CANCELLED, "m"),
            StackEvent("e3", when, "sigma", STACK, "ROLLBACK_COMPLETE", "", stack_id),
        ]
        for event in events:
            kwargs["on_event"](event)
        return WatchResult(stack_id, "ROLLBACK_COMPLETE", "", events)

    monkeypatch.setattr(stack_flow, "watch_stack", failed)

    result = launch("--name", "sigma", "--manager-size", "1", "--cluster-size", "1")

    assert result.exit_code == ExitCode.FAILED
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: stack sigma ended ROLLBACK_COMPLETE",
        "error: first failure: WorkerGroup (AWS::AutoScaling::AutoScalingGroup) "
        "CREATE_FAILED: vCPU limit",
    ]


@pytest.mark.usefixtures("public_image_parameters")
def test_the_real_template_launches_and_its_nodes_are_found(aws_endpoint: str) -> None:
    """The template of swarmstack.templates.aws end to end, exactly as rendered."""
    result = launch(
        "--name", "tau", "--key-name", "ops", "--manager-size", "3", "--cluster-size", "2"
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["node_counts"] == {"manager": 3, "worker": 2}
    assert {n["state"] for n in data["nodes"]} == {"running"}
    assert data["change_set"]["type"] == "CREATE"
    created = {c["type"] for c in data["change_set"]["changes"]}
    assert "AWS::ElasticLoadBalancingV2::LoadBalancer" in created
    assert {n["group"].split("-")[1] for n in data["nodes"]} == {
        "ManagerAutoScalingGroup",
        "WorkerAutoScalingGroup",
    }


def test_the_real_template_needs_a_key_pair_before_any_aws_call(aws_endpoint: str) -> None:
    result = launch("--name", "upsilon")

    assert result.exit_code == ExitCode.USAGE
    assert "error: --key-name: required to launch (template parameter KeyName)" in result.stderr
    assert boto3.client("cloudformation").describe_stacks()["Stacks"] == []


@pytest.mark.usefixtures("use_template")
def test_launch_without_a_terminal_and_without_yes_refuses_and_leaves_nothing(
    aws_endpoint: str,
) -> None:
    result = swarmstack("aws", "launch-stack", "--name", "phi", "--region", "us-east-1")

    assert result.exit_code == ExitCode.USAGE
    assert "needs confirmation, and stdin is not a terminal" in result.stderr
    assert "hint: re-run with --yes" in result.stderr
    cfn = boto3.client("cloudformation")
    assert not [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == "phi"]


@pytest.mark.usefixtures("use_template")
def test_a_shell_left_by_an_unexecuted_create_change_set_is_replaced(aws_endpoint: str) -> None:
    cfn = boto3.client("cloudformation")
    spec = ClusterSpec.model_validate({"name": "chi", "manager_size": 1, "cluster_size": 0})
    cfn.create_change_set(
        StackName="chi",
        ChangeSetName="abandoned",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(small_template(spec)),
        Tags=[{"Key": "swarmstack-cluster", "Value": "chi"}],
    )
    assert cfn.describe_stacks(StackName="chi")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"

    result = launch("--name", "chi", "--manager-size", "1", "--cluster-size", "1")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["node_counts"] == {"manager": 1, "worker": 1}


def test_delete_removes_the_stacks_uploaded_templates(
    aws_endpoint: str, use_template: Callable[[int], None]
) -> None:
    use_template(INLINE_LIMIT_BYTES + 1)
    assert launch("--name", "psi", "--manager-size", "1", "--cluster-size", "0").exit_code == 0
    bucket = default_bucket_name("123456789012", "us-east-1")
    assert boto3.client("s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 1

    deleted = swarmstack(
        "-o", "json", "aws", "delete-stack", "--name", "psi", "--region", "us-east-1", "--yes"
    )  # fmt: skip

    assert deleted.exit_code == 0, deleted.stderr
    removed = json.loads(deleted.stdout)["templates_removed"]
    assert len(removed) == 1
    assert removed[0].startswith(f"s3://{bucket}/swarmstack/templates/psi/")
    assert boto3.client("s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.usefixtures("use_template")
def test_an_unknown_profile_is_one_line(aws_endpoint: str) -> None:
    result = launch("--name", "omega", "--profile", "no-such-profile")

    assert result.exit_code == ExitCode.FAILED
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: AWS profile 'no-such-profile' not found in your AWS config files"]


@pytest.mark.usefixtures("use_template")
def test_status_wait_resumes_watching_a_busy_stack(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto finishes every operation at once, so the first look reports it still busy."""
    assert launch("--name", "busy", "--manager-size", "1", "--cluster-size", "1").exit_code == 0
    calls: list[str] = []

    def first_busy(cfn: Any, name_or_id: str) -> Stack | None:
        calls.append(name_or_id)
        stack = describe_stack(cfn, name_or_id)
        if stack is not None and len(calls) == 1:
            return dataclasses.replace(stack, status="UPDATE_IN_PROGRESS")
        return stack

    monkeypatch.setattr(stack_flow, "describe_stack", first_busy)

    result = swarmstack(
        "-o", "json", "aws", "status", "--name", "busy", "--region", "us-east-1", "--wait"
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "stack busy is UPDATE_IN_PROGRESS; watching (Ctrl-C stops watching)" in result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "CREATE_COMPLETE"
    assert data["node_counts"] == {"manager": 1, "worker": 1}
    assert len(calls) == 2  # looked again after the watch
