"""Failures name the resource, the code and the message; an interrupted deploy resumes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from swarmstack.azure.apply import apply_plan
from swarmstack.azure.clients import AzureClients
from swarmstack.azure.engine import Event
from swarmstack.azure.plan import make_plan
from swarmstack.errors import (
    AzureAuthorizationFailed,
    AzureCredentialsError,
    AzureInterrupted,
    AzureOperationFailed,
    AzureQuotaExceeded,
)
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure

from .conftest import CLIENT_SECRET, SUBSCRIPTION, secret_credential
from .test_deploy import GROUP, LOCATION, expected_resources, run

ACTION = "Microsoft.Compute/virtualMachineScaleSets/write"


def deploy(
    clients: AzureClients,
    events: list[Event] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> None:
    """Plan and apply the test cluster, as `azure deploy --yes` does."""
    plan = make_plan(clients, GROUP, LOCATION, "swarm", {}, expected_resources())
    sink = on_event or (events.append if events is not None else (lambda event: None))
    apply_plan(clients, plan, sink, poll_seconds=0)


def test_a_failed_operation_names_resource_code_and_message(
    fake_azure: FakeAzure, clients: AzureClients
) -> None:
    fake_azure.fail(
        "swarm-workers", "AllocationFailed", "Allocation failed: no capacity in zone 2."
    )
    events: list[Event] = []
    with pytest.raises(AzureOperationFailed) as caught:
        deploy(clients, events)
    assert caught.value.problems == (
        "workers (swarm-workers): AllocationFailed: Allocation failed: no capacity in zone 2.",
    )
    # Independent work finished; the failure was reported live.
    assert fake_azure.resource("swarm-managers")["properties"]["provisioningState"] == "Succeeded"
    assert [e.phase for e in events if e.key == "workers"] == ["creating", "failed"]
    # The next deploy repairs the failed resource with an update.
    plan = make_plan(clients, GROUP, LOCATION, "swarm", {}, expected_resources())
    actions = {change.resource.key: change.action for change in plan.changes}
    assert actions == {
        "nsg": "no change", "publicIp": "no change", "vnet": "no change",
        "loadBalancer": "no change", "managers": "no change", "workers": "update",
    }  # fmt: skip


def test_dependents_of_a_failed_resource_are_skipped(
    fake_azure: FakeAzure, clients: AzureClients
) -> None:
    fake_azure.fail("swarm-lb", "InvalidLoadBalancerConfiguration", "Probe tcp-80 is invalid.")
    events: list[Event] = []
    with pytest.raises(AzureOperationFailed) as caught:
        deploy(clients, events)
    assert caught.value.problems == (
        "loadBalancer (swarm-lb): InvalidLoadBalancerConfiguration: Probe tcp-80 is invalid.",
    )
    skipped = {e.key for e in events if e.phase == "skipped"}
    assert skipped == {"managers", "workers"}
    assert not fake_azure.puts("swarm-managers")


def test_an_interrupted_deploy_resumes_without_starting_over(
    fake_azure: FakeAzure, clients: AzureClients
) -> None:
    fake_azure.hold("swarm-workers")

    def interrupt_when_workers_start(event: Event) -> None:
        if event.key == "workers" and event.phase == "creating":
            raise KeyboardInterrupt

    with pytest.raises(AzureInterrupted) as caught:
        deploy(clients, on_event=interrupt_when_workers_start)
    assert "workers (swarm-workers)" in caught.value.problems[0]
    assert fake_azure.resource("swarm-workers")["properties"]["provisioningState"] == "Creating"

    plan = make_plan(clients, GROUP, LOCATION, "swarm", {}, expected_resources())
    assert {c.resource.key: c.action for c in plan.changes}["workers"] == "resume"

    def release_when_resuming(event: Event) -> None:
        events.append(event)
        if event.key == "workers" and event.phase == "resuming":
            fake_azure.release("swarm-workers")

    events: list[Event] = []
    apply_plan(clients, plan, release_when_resuming, poll_seconds=0)
    assert [e.phase for e in events if e.key == "workers"] == ["resuming", "resumed"]
    # Waited for the running operation instead of sending the body again (Azure would 409).
    assert len(fake_azure.puts("swarm-workers")) == 1
    assert fake_azure.resource("swarm-workers")["properties"]["provisioningState"] == "Succeeded"


def test_authorization_failure_names_the_action(
    fake_azure: FakeAzure, clients: AzureClients
) -> None:
    fake_azure.refuse(
        "PUT",
        "swarm-managers",
        403,
        "AuthorizationFailed",
        f"The client 'ops@example.com' with object id 'x' does not have authorization to perform "
        f"action '{ACTION}' over scope '/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/"
        "providers/Microsoft.Compute/virtualMachineScaleSets/swarm-managers' or the scope is "
        "invalid.",
    )
    with pytest.raises(AzureAuthorizationFailed) as caught:
        deploy(clients)
    first = caught.value.problems[0]
    assert first.startswith("authorization failed: managers (swarm-managers): ")
    assert f"may not perform {ACTION} on /subscriptions/" in first
    assert len(caught.value.problems) == 1


def test_quota_exceeded_is_one_line(fake_azure: FakeAzure, clients: AzureClients) -> None:
    message = (
        "Operation could not be completed as it results in exceeding approved "
        "standardDSv5Family Cores quota. Location: westeurope, Current Limit: 10, "
        "Current Usage: 6, Additional Required: 4."
    )
    fake_azure.refuse("PUT", "swarm-workers", 409, "OperationNotAllowed", message)
    with pytest.raises(AzureQuotaExceeded) as caught:
        deploy(clients)
    assert caught.value.problems == (
        f"quota exceeded: workers (swarm-workers): OperationNotAllowed: {message}",
    )


def test_a_wrong_client_secret_is_a_credential_error_without_the_secret(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-secret-value-9f8e7d"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", wrong)
    monkeypatch.setattr(
        "swarmstack.azure.credentials.default_credential",
        lambda cloud: secret_credential(fake_azure, wrong),
    )
    from click.testing import CliRunner

    from swarmstack.cli.main import cli

    result = CliRunner().invoke(
        cli,
        ["azure", "status", "-g", GROUP, "--subscription", SUBSCRIPTION,
         "--arm-endpoint", fake_azure.base_url, "--poll-interval", "0"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "error: no usable Azure credential: " in result.stderr
    assert "AADSTS7000215" in result.stderr
    assert wrong not in result.output + result.stderr
    assert CLIENT_SECRET not in result.output + result.stderr
    assert not [r for r in fake_azure.requests if r.path.startswith("/subscriptions")]
    assert AzureCredentialsError.exit_code == 1


def test_the_cli_reports_a_failure_as_one_line(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_azure.fail("swarm-managers", "ZonalAllocationFailed", "No capacity for Standard_D2s_v5.")
    result = run(
        fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-bootstrap"
    )
    assert result.exit_code == 1
    assert (
        "error: managers (swarm-managers): ZonalAllocationFailed: No capacity for Standard_D2s_v5."
        in result.stderr
    )
    assert "Traceback" not in result.output + result.stderr
    assert not result.stdout.strip() or json.loads(result.stdout)


def test_the_cli_names_the_refused_action_in_one_line(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    action = "Microsoft.Resources/subscriptions/resourcegroups/read"
    fake_azure.refuse(
        "GET",
        GROUP,
        403,
        "AuthorizationFailed",
        f"The client 'x' with object id 'y' does not have authorization to perform action "
        f"'{action}' over scope '/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}' or the "
        "scope is invalid. If access was recently granted, please refresh your credentials.",
    )
    result = run(
        fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-bootstrap"
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-2] == (
        f"error: authorization failed: resource group {GROUP}: the signed-in identity may not "
        f"perform {action} on /subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}"
    )
    assert lines[-1].startswith("hint: ask for a role that grants it")
