"""The node agent's AWS calls: instance metadata (stdlib) and a thin boto3 adapter.

Endpoints come from the environment as for every SDK: AWS_EC2_METADATA_SERVICE_ENDPOINT for
the instance metadata, AWS_ENDPOINT_URL for the APIs (passed explicitly, because Debian 12's
boto3 1.26 predates that variable). Secrets (join tokens) are returned to the caller and never
logged; errors carry AWS's code and message only.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ...contract import CLUSTER_TAG, ROLE_TAG
from .decisions import Instance, Lease, Notice, SwarmRecord, parse_notice

IMDS_DEFAULT = "http://169.254.169.254"
# Target groups of published ports: quick health checks, quick deregistration.
HEALTH_CHECK_INTERVAL = 10
HEALTH_THRESHOLD = 3
DEREGISTRATION_DELAY = "30"
# Marks the target groups this stack's leader created for published ports (value: the stack).
PORT_OF_TAG = "swarmstack-port-of"


def parameter_root(stack: str) -> str:
    """Everything the stack keeps in SSM lives under this path (IAM scopes to it)."""
    return f"/swarmstack/{stack}"


class Imds:
    """IMDSv2: a session token first, then reads with it."""

    def __init__(self, endpoint: str | None = None, timeout: float = 5.0) -> None:
        base = endpoint or os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_DEFAULT
        self.base = base.rstrip("/")
        self.timeout = timeout
        self._token = ""

    def _open(self, request: urllib.request.Request) -> str:
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return str(response.read().decode())

    def token(self) -> str:
        if not self._token:
            request = urllib.request.Request(  # noqa: S310 - http(s) from the environment
                f"{self.base}/latest/api/token",
                method="PUT",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
            )
            self._token = self._open(request)
        return self._token

    def get(self, path: str) -> str | None:
        """The value at latest/<path>, or None when it does not exist (a tag not set)."""
        request = urllib.request.Request(  # noqa: S310 - http(s) from the environment
            f"{self.base}/latest/{path}", headers={"X-aws-ec2-metadata-token": self.token()}
        )
        try:
            return self._open(request).strip()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


@dataclass(frozen=True)
class StackResources:
    """Physical ids of the stack resources the agent works with (found by logical id)."""

    queue_url: str = ""
    load_balancer: str = ""
    load_balancer_group: str = ""  # the load balancer's security group id
    groups: tuple[tuple[str, str], ...] = ()  # (role, Auto Scaling group name)

    def group(self, role: str) -> str:
        return dict(self.groups).get(role, "")


class Cloud:
    """The stack's state in SSM, EC2, Auto Scaling, SQS, ELBv2 and CloudFormation."""

    def __init__(self, stack: str, region: str, session: Any = None) -> None:
        import boto3  # on the node: Debian's python3-boto3

        self.stack = stack
        self.root = parameter_root(stack)
        self.session = session or boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
            client: Any = self.session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]
            self._clients[service] = client
        return self._clients[service]

    # --- leases (SSM: PutParameter without Overwrite is the atomic step) -------------------

    def leases(self, name: str) -> list[Lease]:
        path = f"{self.root}/lease/{name}"
        found = []
        paginator = self.client("ssm").get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=path, Recursive=False):
            for parameter in page["Parameters"]:
                generation = parameter["Name"].rsplit("/", 1)[1]
                if generation.isdigit():
                    found.append(Lease.from_json(int(generation), parameter["Value"]))
        return found

    def _lease_name(self, name: str, generation: int) -> str:
        return f"{self.root}/lease/{name}/{generation:06d}"

    def create_lease(self, name: str, lease: Lease) -> bool:
        """True when this call created the generation; False when another claimant did."""
        ssm = self.client("ssm")
        try:
            ssm.put_parameter(
                Name=self._lease_name(name, lease.generation),
                Value=lease.to_json(),
                Type="String",
                Overwrite=False,
            )
        except ssm.exceptions.ParameterAlreadyExists:
            return False
        return True

    def renew_lease(self, name: str, lease: Lease) -> None:
        """Heartbeat or release: only the holder rewrites its own generation."""
        self.client("ssm").put_parameter(
            Name=self._lease_name(name, lease.generation),
            Value=lease.to_json(),
            Type="String",
            Overwrite=True,
        )

    # --- the swarm record and the join tokens ----------------------------------------------

    def swarm_record(self) -> SwarmRecord | None:
        ssm = self.client("ssm")
        try:
            value = ssm.get_parameter(Name=f"{self.root}/swarm")["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None
        return SwarmRecord.from_json(value)

    def put_swarm_record(self, record: SwarmRecord) -> None:
        self.client("ssm").put_parameter(
            Name=f"{self.root}/swarm", Value=record.to_json(), Type="String", Overwrite=True
        )

    def put_tokens(self, tokens: dict[str, str]) -> None:
        """SecureString only (KMS-encrypted with the account's aws/ssm key)."""
        for role, token in tokens.items():
            self.client("ssm").put_parameter(
                Name=f"{self.root}/token/{role}", Value=token, Type="SecureString", Overwrite=True
            )

    def token(self, role: str) -> str:
        response = self.client("ssm").get_parameter(
            Name=f"{self.root}/token/{role}", WithDecryption=True
        )
        return str(response["Parameter"]["Value"])

    # --- instances --------------------------------------------------------------------------

    def instances(self) -> list[Instance]:
        """The stack's instances, terminated ones included while EC2 still lists them."""
        return self._describe(Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [self.stack]}])

    def _describe(self, **kwargs: Any) -> list[Instance]:
        found = []
        paginator = self.client("ec2").get_paginator("describe_instances")
        for page in paginator.paginate(**kwargs):
            for reservation in page["Reservations"]:
                for item in reservation["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
                    found.append(
                        Instance(
                            id=item["InstanceId"],
                            address=item.get("PrivateIpAddress", ""),
                            zone=item.get("Placement", {}).get("AvailabilityZone", ""),
                            role=tags.get(ROLE_TAG, ""),
                            state=item["State"]["Name"],
                        )
                    )
        return found

    # --- the stack ------------------------------------------------------------------------

    def resources(self) -> StackResources:
        found = {}
        paginator = self.client("cloudformation").get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=self.stack):
            for item in page["StackResourceSummaries"]:
                if item.get("LogicalResourceId") and item.get("PhysicalResourceId"):
                    found[item["LogicalResourceId"]] = item["PhysicalResourceId"]
        return StackResources(
            queue_url=found.get("LifecycleQueue", ""),
            load_balancer=found.get("LoadBalancer", ""),
            load_balancer_group=found.get("LoadBalancerSecurityGroup", ""),
            groups=tuple(
                (role, found[f"{role.capitalize()}AutoScalingGroup"])
                for role in ("manager", "worker")
                if f"{role.capitalize()}AutoScalingGroup" in found
            ),
        )

    def signal_ready(self, role: str, instance_id: str) -> None:
        """The resource signal the group's creation and update policies wait for."""
        self.client("cloudformation").signal_resource(
            StackName=self.stack,
            LogicalResourceId=f"{role.capitalize()}AutoScalingGroup",
            UniqueId=instance_id,
            Status="SUCCESS",
        )

    # --- the lifecycle queue ----------------------------------------------------------------

    def notices(self, queue_url: str, wait: int = 5) -> list[Notice]:
        response = self.client("sqs").receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        )
        return [parse_notice(m["ReceiptHandle"], m["Body"]) for m in response.get("Messages", [])]

    def done_with(self, queue_url: str, notice: Notice) -> None:
        self.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=notice.receipt)

    def retry_later(self, queue_url: str, notice: Notice, seconds: int) -> None:
        self.client("sqs").change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=notice.receipt, VisibilityTimeout=seconds
        )

    def complete(self, notice: Notice) -> None:
        autoscaling = self.client("autoscaling")
        try:
            autoscaling.complete_lifecycle_action(
                AutoScalingGroupName=notice.group,
                LifecycleHookName=notice.hook,
                LifecycleActionToken=notice.token,
                InstanceId=notice.instance_id,
                LifecycleActionResult="CONTINUE",
            )
        except autoscaling.exceptions.ClientError as error:
            # The action timed out or was completed by an earlier attempt: nothing to do.
            if error.response["Error"]["Code"] != "ValidationError":
                raise

    def heartbeat(self, notice: Notice) -> None:
        self.client("autoscaling").record_lifecycle_action_heartbeat(
            AutoScalingGroupName=notice.group,
            LifecycleHookName=notice.hook,
            LifecycleActionToken=notice.token,
            InstanceId=notice.instance_id,
        )

    # --- listeners that follow services ---------------------------------------------------

    def managed_listeners(self, load_balancer: str) -> dict[int, tuple[str, str]]:
        """Port -> (listener arn, target group arn) of the listeners the agent made."""
        elb = self.client("elbv2")
        listeners = elb.describe_listeners(LoadBalancerArn=load_balancer)["Listeners"]
        by_group = {}
        for listener in listeners:
            for action in listener.get("DefaultActions", []):
                if action.get("TargetGroupArn"):
                    by_group[action["TargetGroupArn"]] = listener
        managed = {}
        if by_group:
            described = elb.describe_tags(ResourceArns=list(by_group))["TagDescriptions"]
            for item in described:
                tags = {t["Key"]: t["Value"] for t in item["Tags"]}
                if tags.get(PORT_OF_TAG) == self.stack:
                    listener = by_group[item["ResourceArn"]]
                    managed[int(listener["Port"])] = (listener["ListenerArn"], item["ResourceArn"])
        return managed

    def target_group_name(self, port: int) -> str:
        """At most 32 characters, unique per stack and port."""
        digest = hashlib.sha256(self.stack.encode()).hexdigest()[:10]
        return f"swarmstack-{digest}-{port}"

    def open_port(self, resources: StackResources, port: int, role: str) -> None:
        """A target group (the role's Auto Scaling group registers its instances), a TCP
        listener and the load balancer's ingress rule for ``port``."""
        elb = self.client("elbv2")
        tags = [{"Key": CLUSTER_TAG, "Value": self.stack}]
        # The load balancer's VPC: the stack's own or the one it was deployed into.
        [balancer] = elb.describe_load_balancers(LoadBalancerArns=[resources.load_balancer])[
            "LoadBalancers"
        ]
        group = elb.create_target_group(
            Name=self.target_group_name(port),
            Protocol="TCP",
            Port=port,
            VpcId=balancer["VpcId"],
            TargetType="instance",
            HealthCheckProtocol="TCP",
            HealthCheckIntervalSeconds=HEALTH_CHECK_INTERVAL,
            HealthyThresholdCount=HEALTH_THRESHOLD,
            UnhealthyThresholdCount=HEALTH_THRESHOLD,
            Tags=[*tags, {"Key": PORT_OF_TAG, "Value": self.stack}],
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(
            TargetGroupArn=group,
            Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": DEREGISTRATION_DELAY}
            ],
        )
        self.client("autoscaling").attach_load_balancer_target_groups(
            AutoScalingGroupName=resources.group(role), TargetGroupARNs=[group]
        )
        elb.create_listener(
            LoadBalancerArn=resources.load_balancer,
            Protocol="TCP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )
        if resources.load_balancer_group:
            ec2 = self.client("ec2")
            try:
                ec2.authorize_security_group_ingress(
                    GroupId=resources.load_balancer_group,
                    IpPermissions=[_world(port)],
                )
            except ec2.exceptions.ClientError as error:
                if error.response["Error"]["Code"] != "InvalidPermission.Duplicate":
                    raise

    def close_port(self, resources: StackResources, port: int, listener: str, group: str) -> None:
        elb = self.client("elbv2")
        elb.delete_listener(ListenerArn=listener)
        autoscaling = self.client("autoscaling")
        for _, name in resources.groups:  # attached to the workers, or to the managers
            attached = autoscaling.describe_load_balancer_target_groups(AutoScalingGroupName=name)
            if any(
                g["LoadBalancerTargetGroupARN"] == group
                for g in attached["LoadBalancerTargetGroups"]
            ):
                autoscaling.detach_load_balancer_target_groups(
                    AutoScalingGroupName=name, TargetGroupARNs=[group]
                )
        elb.delete_target_group(TargetGroupArn=group)
        if resources.load_balancer_group:
            ec2 = self.client("ec2")
            try:
                ec2.revoke_security_group_ingress(
                    GroupId=resources.load_balancer_group, IpPermissions=[_world(port)]
                )
            except ec2.exceptions.ClientError as error:
                if error.response["Error"]["Code"] != "InvalidPermission.NotFound":
                    raise


def _world(port: int) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": f"Published service port {port}"}],
    }
