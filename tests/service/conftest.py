"""Service-test fixtures: a real moto server on loopback, with fake credentials."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.cloudformation import models as cfn_models
from moto.server import ThreadedMotoServer

from swarmstack.provisioners.local.sim.corrections import (
    fake_corrections,
    seed_public_image_parameters,
)

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
    _correct_the_fake(monkeypatch)
    _signal_like_node_agents(monkeypatch)
    return moto_server


def _correct_the_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's gaps corrected as AWS behaves (swarmstack's simulation uses the same corrections;
    each says what AWS does). The server runs in this process, so its classes are patched."""
    for owner, name, value in fake_corrections():
        monkeypatch.setattr(owner, name, value, raising=False)  # some are new API calls


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


@pytest.fixture
def public_image_parameters(aws_endpoint: str) -> str:
    """The distributions' public image parameters in moto's SSM (every real account has them);
    yields the image id they point at, one of moto's own images."""
    region = FAKE_AWS_ENV["AWS_DEFAULT_REGION"]
    image: str = boto3.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    seed_public_image_parameters(region, image)
    return image
