"""The node agent's AWS adapter against a moto server: the calls the nodes really make.

- the first-manager claim: SSM PutParameter without Overwrite, so of two claimants one wins,
  and a stale lease is taken over as the next generation (again by exactly one);
- the join tokens: SecureString parameters under /swarmstack/<stack>/, read back decrypted;
- a termination notice in the lifecycle queue ends in CompleteLifecycleAction and the message
  is gone.
moto (5.2) does not implement CompleteLifecycleAction or RecordLifecycleActionHeartbeat; the
``lifecycle_actions`` fixture adds them to the in-process server and records each call.
"""

from __future__ import annotations

import json
from typing import Any, cast

import boto3
import pytest
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

from swarmstack.provisioners.nodeagent import decisions as d
from swarmstack.provisioners.nodeagent.aws import Cloud, StackResources, parameter_root
from swarmstack.provisioners.nodeagent.engine import Engine
from swarmstack.provisioners.nodeagent.main import Booter, Healer, Settings

from ..fake_engines import FakeEngine

STACK = "prod"
REGION = "us-east-1"


def identity(instance_id: str, role: str = "manager") -> d.NodeIdentity:
    return d.NodeIdentity(instance_id, STACK, role, "us-east-1a", REGION, "10.0.1.5")


def booter(instance_id: str, now: float = 1000.0) -> Booter:
    return Booter(
        identity(instance_id),
        cast(Engine, FakeEngine()),
        Cloud(STACK, REGION),
        Settings(),
        clock=lambda: now,
        sleep=lambda seconds: None,
    )


# --- the atomic claim -------------------------------------------------------------------


def test_of_two_claimants_exactly_one_gets_the_lease(aws_endpoint: str) -> None:
    first, second = booter("i-aaa"), booter("i-bbb")
    # Both read an empty store and decide to take generation 1 ...
    assert d.lease_decision(first.cloud.leases("init"), "i-aaa", 1000.0).verdict == "take"
    assert d.lease_decision(second.cloud.leases("init"), "i-bbb", 1000.0).verdict == "take"
    # ... and creating it is the atomic step: the second create fails.
    assert first.cloud.create_lease("init", d.Lease(1, "i-aaa", 1000.0))
    assert not second.cloud.create_lease("init", d.Lease(1, "i-bbb", 1000.0))
    assert [lease.holder for lease in second.cloud.leases("init")] == ["i-aaa"]
    # Through the agent's own loop: the winner holds it, the other waits.
    assert first.lease("init") is not None
    assert second.lease("init") is None


def test_a_stale_lease_is_taken_over_by_exactly_one_manager(aws_endpoint: str) -> None:
    dead = booter("i-dead", now=0.0)
    assert dead.lease("init") is not None  # its holder dies before it finishes
    later = 1000.0 + d.LEASE_STALE
    first, second = booter("i-aaa", later), booter("i-bbb", later)
    taken = [first.lease("init"), second.lease("init")]
    assert [lease.generation if lease else None for lease in taken] == [2, None]
    generations = {lease.generation: lease.holder for lease in first.cloud.leases("init")}
    assert generations == {1: "i-dead", 2: "i-aaa"}  # nothing was overwritten


# --- tokens ---------------------------------------------------------------------------


def test_tokens_are_secure_strings_under_the_stacks_path(aws_endpoint: str) -> None:
    cloud = Cloud(STACK, REGION)
    tokens = {"worker": "SWMTKN-1-worker-secret", "manager": "SWMTKN-1-manager-secret"}
    cloud.put_tokens(tokens)
    cloud.put_tokens(tokens)  # a manager that publishes again overwrites, never fails
    assert cloud.token("worker") == tokens["worker"]
    assert cloud.token("manager") == tokens["manager"]
    ssm = boto3.client("ssm", endpoint_url=aws_endpoint)
    stored = ssm.get_parameters_by_path(Path=parameter_root(STACK), Recursive=True)["Parameters"]
    by_name = {p["Name"]: p for p in stored}
    for role in ("worker", "manager"):
        parameter = by_name[f"/swarmstack/{STACK}/token/{role}"]
        assert parameter["Type"] == "SecureString"
        assert parameter["Value"] != tokens[role]  # not readable without decryption
    record = d.SwarmRecord("cluster-1", ("10.0.1.5:2377",))
    cloud.put_swarm_record(record)
    assert cloud.swarm_record() == record
    assert by_name.keys() <= {f"/swarmstack/{STACK}/token/{r}" for r in ("worker", "manager")}


# --- lifecycle notices ---------------------------------------------------------------


@pytest.fixture
def lifecycle_actions(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """CompleteLifecycleAction / RecordLifecycleActionHeartbeat on the moto server, recorded.

    On AWS the first ends the termination wait (the instance terminates at once), the second
    extends it by the hook's heartbeat timeout; both fail for an unknown token.
    """
    calls: list[dict[str, Any]] = []

    def recorder(action: str) -> Any:
        def handle(self: AutoScalingResponse) -> EmptyResult:
            calls.append({"Action": action, **self._get_params()})
            return EmptyResult()

        return handle

    for action in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
        name = (
            "complete_lifecycle_action"
            if action.startswith("Complete")
            else ("record_lifecycle_action_heartbeat")
        )
        monkeypatch.setattr(AutoScalingResponse, name, recorder(action), raising=False)
    return calls


def termination_notice(instance_id: str) -> str:
    """What Auto Scaling posts to the queue of a termination hook (moto posts nothing)."""
    return json.dumps(
        {
            "Origin": "AutoScalingGroup",
            "Destination": "EC2",
            "Service": "AWS Auto Scaling",
            "AccountId": "123456789012",
            "AutoScalingGroupName": "prod-WorkerAutoScalingGroup-1",
            "LifecycleHookName": "swarmstack-node-leaving",
            "LifecycleActionToken": "b6c2c0e1-0000-4000-8000-000000000001",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "EC2InstanceId": instance_id,
            "NotificationMetadata": '{"swarmstack-role": "worker"}',
        }
    )


def leaving_queue(endpoint: str, instance_id: str) -> str:
    """The stack's lifecycle queue with a termination notice of ``instance_id`` in it."""
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    queue = sqs.create_queue(QueueName="prod-lifecycle")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=termination_notice(instance_id))
    return str(queue)


def leader_healer(engine: FakeEngine, queue: str) -> Healer:
    """The leader's healer, reading that queue through ``engine``."""
    return Healer(
        identity("i-leader"),
        cast(Engine, engine),
        Cloud(STACK, REGION),
        Settings(),
        resources=StackResources(queue_url=queue),
    )


def test_a_termination_notice_ends_in_complete_lifecycle_action(
    aws_endpoint: str, lifecycle_actions: list[dict[str, Any]]
) -> None:
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint)
    queue = sqs.create_queue(QueueName="prod-lifecycle")["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({"Event": "autoscaling:TEST_NOTIFICATION"})
    )
    sqs.send_message(QueueUrl=queue, MessageBody=termination_notice("i-0123456789abcdef0"))
    cloud = Cloud(STACK, REGION)
    healer = Healer(identity("i-leader"), cast(Engine, FakeEngine()), cloud, Settings())

    notices = cloud.notices(queue, wait=1)
    assert len(notices) == 2
    for notice in notices:
        healer.leaving(queue, notice, address="")

    assert [call["Action"] for call in lifecycle_actions] == ["CompleteLifecycleAction"]
    [call] = lifecycle_actions
    assert call["InstanceId"] == "i-0123456789abcdef0"
    assert call["LifecycleHookName"] == "swarmstack-node-leaving"
    assert call["AutoScalingGroupName"] == "prod-WorkerAutoScalingGroup-1"
    assert call["LifecycleActionToken"] == "b6c2c0e1-0000-4000-8000-000000000001"
    assert call["LifecycleActionResult"] == "CONTINUE"
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"  # both handled and deleted
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_leaving_worker_is_drained_and_removed_before_the_action_completes(
    aws_endpoint: str, lifecycle_actions: list[dict[str, Any]]
) -> None:
    queue = leaving_queue(aws_endpoint, "i-0123456789abcdef0")
    worker = d.SwarmNode(
        "node-w", 5, "worker", "ready", "active", "10.0.2.7",
        {"swarmstack.instance-id": "i-0123456789abcdef0"},
    )  # fmt: skip
    engine = FakeEngine([worker])
    leader_healer(engine, queue).handle_notices([])
    assert engine.calls == ["update node-w {'Availability': 'drain'}", "remove node-w"]
    assert [call["Action"] for call in lifecycle_actions] == ["CompleteLifecycleAction"]


def test_a_manager_whose_removal_would_break_quorum_is_kept_and_heartbeated(
    aws_endpoint: str, lifecycle_actions: list[dict[str, Any]]
) -> None:
    queue = leaving_queue(aws_endpoint, "i-0123456789abcdef0")
    leaving = d.SwarmNode(
        "m0", 5, "manager", "ready", "drain", "10.0.1.7",
        {"swarmstack.instance-id": "i-0123456789abcdef0"}, "reachable",
    )  # fmt: skip
    others = [
        d.SwarmNode("m1", 5, "manager", "ready", "active", "10.0.1.8", {}, "reachable", True),
        d.SwarmNode("m2", 5, "manager", "down", "active", "10.0.1.9", {}, "unreachable"),
    ]
    engine = FakeEngine([leaving, *others])
    leader_healer(engine, queue).handle_notices([])
    assert engine.calls == []  # not demoted: the two left would have one reachable manager
    assert [call["Action"] for call in lifecycle_actions] == ["RecordLifecycleActionHeartbeat"]


class LeaderEngine(FakeEngine):
    """The Engine API of the manager ``me`` (the leader)."""

    def __init__(self, me: str, nodes: list[d.SwarmNode]) -> None:
        super().__init__(nodes)
        self.me = me

    def local_swarm(self) -> d.LocalSwarm:
        is_manager = self.swarm_nodes[self.me].role == "manager"
        return d.LocalSwarm("active", self.me, is_manager, "cluster-1")


def test_a_leader_leaving_demotes_itself_and_hands_the_notice_to_the_next_leader(
    aws_endpoint: str, lifecycle_actions: list[dict[str, Any]]
) -> None:
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint)
    queue = sqs.create_queue(QueueName="prod-lifecycle", Attributes={"VisibilityTimeout": "120"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=queue, MessageBody=termination_notice("i-leader"))
    me = d.SwarmNode(
        "m0", 5, "manager", "ready", "active", "10.0.1.5",
        {"swarmstack.instance-id": "i-leader"}, "reachable", True,
    )  # fmt: skip
    others = [
        d.SwarmNode("m1", 5, "manager", "ready", "active", "10.0.1.8", {}, "reachable"),
        d.SwarmNode("m2", 5, "manager", "ready", "active", "10.0.1.9", {}, "reachable"),
    ]
    engine = LeaderEngine("m0", [me, *others])
    leader_healer(engine, queue).handle_notices([])
    assert engine.calls == [
        "update m0 {'Availability': 'drain'}",
        "update m0 {'Role': 'worker'}",
    ]
    assert lifecycle_actions == []  # the next leader removes the node, then completes
    # ... and can read the notice at once, not after the queue's 120 s visibility timeout.
    again = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(again[0]["Body"])["EC2InstanceId"] == "i-leader"


# --- listeners that follow services ----------------------------------------------------


def _load_balanced_stack() -> StackResources:
    """A VPC, a network load balancer with its security group, and two Auto Scaling groups."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=vpc)["GroupId"]
    balancer = boto3.client("elbv2").create_load_balancer(
        Name="prod-lb", Subnets=[subnet_id], SecurityGroups=[group], Type="network"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    template = ec2.create_launch_template(
        LaunchTemplateName="node", LaunchTemplateData={"ImageId": "ami-12c6146b"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling = boto3.client("autoscaling")
    for name in ("prod-managers", "prod-workers"):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template},
            MinSize=0,
            MaxSize=1,
            DesiredCapacity=0,
            VPCZoneIdentifier=subnet_id,
        )
    return StackResources(
        load_balancer=balancer,
        load_balancer_group=group,
        groups=(("manager", "prod-managers"), ("worker", "prod-workers")),
    )


def test_listeners_follow_published_services_and_spec_ports_stay(aws_endpoint: str) -> None:
    resources = _load_balanced_stack()
    engine = FakeEngine([d.SwarmNode("w", 1, "worker", "ready", "active", "10.0.1.9")], [8080])
    cloud = Cloud(STACK, REGION)
    healer = Healer(
        identity("i-leader"), cast(Engine, engine), cloud, Settings(fixed_ports=[80]),
        resources=resources,
    )  # fmt: skip

    healer.follow_services()
    managed = cloud.managed_listeners(resources.load_balancer)
    assert sorted(managed) == [80, 8080]
    autoscaling = boto3.client("autoscaling")
    attached = autoscaling.describe_load_balancer_target_groups(AutoScalingGroupName="prod-workers")
    assert {g["LoadBalancerTargetGroupARN"] for g in attached["LoadBalancerTargetGroups"]} == {
        group for _, group in managed.values()
    }
    rules = boto3.client("ec2").describe_security_groups(GroupIds=[resources.load_balancer_group])
    opened = {p["FromPort"] for p in rules["SecurityGroups"][0]["IpPermissions"]}
    assert opened == {80, 8080}

    healer.follow_services()  # nothing changed: nothing to do
    assert cloud.managed_listeners(resources.load_balancer) == managed

    engine.ports = []  # the service is removed
    healer.follow_services()
    assert sorted(cloud.managed_listeners(resources.load_balancer)) == [80]
    groups = boto3.client("elbv2").describe_target_groups()["TargetGroups"]
    assert [g["Port"] for g in groups] == [80]
    rules = boto3.client("ec2").describe_security_groups(GroupIds=[resources.load_balancer_group])
    assert {p["FromPort"] for p in rules["SecurityGroups"][0]["IpPermissions"]} == {80}
