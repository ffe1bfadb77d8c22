"""Service-test fixtures: a real moto server on loopback, with fake credentials."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.cloudformation import models as cfn_models
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.elbv2 import models as elbv2_models
from moto.server import ThreadedMotoServer
from moto.ssm.models import Parameter, ssm_backends

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # botocore must never probe the instance metadata address.
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the session, on a free loopback port; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto backend plus fake credentials in the environment; yields the endpoint URL.

    Also sets AWS_ENDPOINT_URL, so code using the standard variable reaches moto and nothing else.
    """
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(reset, timeout=10):  # noqa: S310 - the loopback moto server
        pass
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    _honour_load_balancer_type(monkeypatch)
    _signal_like_node_agents(monkeypatch)
    return moto_server


def _honour_load_balancer_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto (5.2) creates every CloudFormation AWS::ElasticLoadBalancingV2::LoadBalancer as an
    application load balancer, ignoring `Type: network`, and then rejects its TCP listeners.
    The server runs in this process, so the fake is corrected here; nothing else changes.
    """

    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        return elbv2_models.elbv2_backends[account_id][region_name].create_load_balancer(
            resource_name,
            properties.get("SecurityGroups"),
            properties.get("Subnets"),
            scheme=properties.get("Scheme", "internet-facing"),
            loadbalancer_type=properties.get("Type", "application"),
        )

    monkeypatch.setattr(
        elbv2_models.FakeLoadBalancer, "create_from_cloudformation_json", classmethod(create)
    )


SIGNAL_REASON = "Received SUCCESS signal with UniqueId {}"


def _signal_like_node_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto (5.2) has no SignalResource and ignores CreationPolicy. On AWS, a group with a
    creation policy completes only after its instances signalled, and each signal is a stack
    event "Received SUCCESS signal with UniqueId <instance id>" (the node agent sends it once
    its node is Ready). Here every instance of such a group that has not signalled yet does so
    just before the stack completes a create or an update (through a change set or not) -
    the events AWS would show.
    """

    def signal(stack: Any) -> None:
        said = {event.resource_status_reason for event in stack.events}
        # The resources as last applied (a change set updates the map, not the template).
        resources = dict(stack.resource_map._resource_json_map)
        for logical_id, definition in resources.items():
            if "CreationPolicy" not in definition:
                continue
            group = stack.resource_map[logical_id]
            for state in getattr(group, "instance_states", []):
                reason = SIGNAL_REASON.format(state.instance.id)
                if reason in said:
                    continue
                stack.events.append(
                    cfn_models.Event(
                        stack_id=stack.stack_id,
                        stack_name=stack.name,
                        logical_resource_id=logical_id,
                        physical_resource_id=group.name,
                        resource_type="AWS::AutoScaling::AutoScalingGroup",
                        resource_status="CREATE_IN_PROGRESS",
                        resource_status_reason=reason,
                        resource_properties=None,
                    )
                )

    add_stack_event = cfn_models.Stack._add_stack_event

    def add_event(self: Any, resource_status: str, *args: Any, **kwargs: Any) -> None:
        if resource_status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            signal(self)  # the signals come before the stack completes
        add_stack_event(self, resource_status, *args, **kwargs)

    monkeypatch.setattr(cfn_models.Stack, "_add_stack_event", add_event)


# Public image parameters of the distributions swarmstack supports, as every AWS account sees
# them (the stack's AmiId parameter defaults to the Debian one).
PUBLIC_IMAGE_PARAMETERS = (
    "/aws/service/debian/release/12/latest/amd64",
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
)


@pytest.fixture
def public_image_parameters(aws_endpoint: str) -> str:
    """Publish the distributions' image parameters in moto's SSM; yields their image id.

    moto knows only Amazon Linux's public parameters and refuses to create /aws/... names
    through the API, so they go into its (in-process) store directly, pointing at one of
    moto's own images. CloudFormation resolves an SSM-typed parameter's default through them.
    """
    region = FAKE_AWS_ENV["AWS_DEFAULT_REGION"]
    image: str = boto3.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    store = ssm_backends[DEFAULT_ACCOUNT_ID][region]._parameters
    for name in PUBLIC_IMAGE_PARAMETERS:
        store[name].append(
            Parameter(  # type: ignore[abstract]  # moto builds its own public ones this way
                account_id=DEFAULT_ACCOUNT_ID,
                name=name,
                value=image,
                parameter_type="String",
                description=None,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=utcnow(),
                version=1,
                data_type="aws:ec2:image",
            )
        )
    return image
