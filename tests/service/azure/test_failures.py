"""Failures name the resource, the code and the message; an interrupted deploy is picked up
by the next one."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from swarmstack.azure.clients import AzureClients
from swarmstack.azure.deploy import AzureDeployment
from swarmstack.errors import (
    AzureAuthorizationFailed,
    AzureCredentialsError,
    AzureInterrupted,
    AzureOperationFailed,
    AzureQuotaExceeded,
)
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure
from swarmstack.spec import ClusterSpec
from swarmstack.stepgraph import Event

from .conftest import CLIENT_SECRET, SUBSCRIPTION, secret_credential
from .test_deploy import GROUP, LOCATION, SPEC, run

ACTION = "Microsoft.Compute/virtualMachineScaleSets/write"


def flow(clients: AzureClients) -> AzureDeployment:
    spec = ClusterSpec.model_validate({**SPEC, "region": LOCATION})
    settings, location = AzureDeployment.check_inputs(
        spec, GROUP, encryption_at_host=False, ssh_bootstrap=False
    )
    return AzureDeployment(clients, spec, settings, GROUP, location)


def deploy(
    clients: AzureClients,
    events: list[Event] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> None:
    """Plan and deploy the test cluster, as `azure deploy --yes` does."""
    sink = on_event or (events.append if events is not None else (lambda event: None))
    cluster = flow(clients)
    cluster.deploy(cluster.plan(), 0, sink)


def test_a_failed_resource_names_itself_its_code_and_message(
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
    # What came before it finished; the failure was reported live.
    assert fake_azure.resource("swarm-managers")["properties"]["provisioningState"] == "Succeeded"
    assert [e.phase for e in events if e.label == "workers (swarm-workers)"][-1] == "failed"
    # The next plan repairs the failed resource, and deploys the template again.
    plan = flow(clients).plan()
    actions = {change.resource.key: change.action for change in plan.changes}
    assert actions == {
        "nsg": "no change", "publicIp": "no change", "vnet": "no change",
        "loadBalancer": "no change", "managers": "no change", "workers": "update",
    }  # fmt: skip
    assert plan.deployment == "failed"
    fake_azure.failures.clear()
    deploy(clients)
    assert fake_azure.resource("swarm-workers")["properties"]["provisioningState"] == "Succeeded"
    assert not flow(clients).plan().has_changes


def test_what_depends_on_a_failed_resource_is_not_created(
    fake_azure: FakeAzure, clients: AzureClients
) -> None:
    fake_azure.fail("swarm-lb", "InvalidLoadBalancerConfiguration", "Probe tcp-80 is invalid.")
    with pytest.raises(AzureOperationFailed) as caught:
        deploy(clients)
    assert caught.value.problems == (
        "loadBalancer (swarm-lb): InvalidLoadBalancerConfiguration: Probe tcp-80 is invalid.",
    )
    assert not fake_azure.puts("swarm-managers")
    assert not fake_azure.puts("swarm-workers")


def test_an_interrupted_deploy_is_waited_for_by_the_next_one(
    fake_azure: FakeAzure, clients: AzureClients
) -> None:
    fake_azure.hold("swarm-workers")

    def interrupt_when_workers_start(event: Event) -> None:
        if event.label == "workers (swarm-workers)":
            raise KeyboardInterrupt

    with pytest.raises(AzureInterrupted) as caught:
        deploy(clients, on_event=interrupt_when_workers_start)
    assert caught.value.problems[0] == ("interrupted: deployment swarmstack-swarm goes on in Azure")
    assert fake_azure.resource("swarm-workers")["properties"]["provisioningState"] == "Creating"

    plan = flow(clients).plan()
    assert plan.deployment == "running"
    assert {c.resource.key: c.action for c in plan.changes}["workers"] == "resume"

    events: list[Event] = []

    def release_when_waiting(event: Event) -> None:
        events.append(event)
        if event.phase == "waiting":
            fake_azure.release("swarm-workers")

    flow(clients).deploy(plan, 0, release_when_waiting)  # no DeploymentActive refusal
    phases = [e.phase for e in events if e.label == "deployment swarmstack-swarm"]
    assert phases == ["waiting", "submitted"]
    assert fake_azure.resource("swarm-workers")["properties"]["provisioningState"] == "Succeeded"
    assert flow(clients).plan().deployment == "current"


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
    result = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
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
    result = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-2] == (
        f"error: authorization failed: resource group {GROUP}: the signed-in identity may not "
        f"perform {action} on /subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}"
    )
    assert lines[-1].startswith("hint: ask for a role that grants it")
