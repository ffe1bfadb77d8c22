"""`azure destroy` deletes in reverse dependency order; `azure status` reads the cluster."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import HttpResponseError

from swarmstack.azure.clients import AzureClients
from swarmstack.azure.destroy import destroy, plan_destroy
from swarmstack.errors import AzureInterrupted
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure
from swarmstack.stepgraph import Event
from swarmstack.templates.azure.resources import LAYOUT, resource_names
from swarmstack.templates.azure.settings import Names

from .test_deploy import GROUP, LOCATION, retag_as_legacy, run


def deployed(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(fake, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert result.exit_code == 0, result.output


def test_destroy_deletes_in_reverse_dependency_order(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(fake_azure, monkeypatch)
    fake_azure.log.clear()
    result = run(fake_azure, monkeypatch, "destroy", "--yes")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] is True
    names = resource_names(Names("swarm"))
    log = fake_azure.log
    for key, _, depends_on in LAYOUT:
        for dependency in depends_on:
            # The dependent was gone before its dependency was even asked to go.
            gone = log.index(("deleted", names[key]))
            asked = log.index(("delete requested", names[dependency]))
            assert gone < asked, (key, dependency, log)
    # The nodes' swarm state goes (a redeployment must not find a dead swarm's record); the
    # Key Vault stays for the next deployment, and with it the group.
    out = json.loads(result.stdout)
    vault = out["kept_vault"]
    assert vault.startswith("swarmkv")
    assert out["keep_group_reason"] == f"it holds the cluster's Key Vault {vault}"
    assert f"keep Key Vault {vault}: purge protection" in result.stderr
    assert only_the_vault_is_left(fake_azure, vault)
    assert GROUP in fake_azure.groups


def only_the_vault_is_left(fake: FakeAzure, vault: str) -> bool:
    """Nothing of the cluster but its Key Vault and what lives in it (secrets, their roles)."""
    vault_id = next(rid for rid in fake.resources if rid.endswith(f"/vaults/{vault}"))
    return all(rid == vault_id or rid.startswith(vault_id + "/") for rid in fake.resources)


def test_destroy_recognises_a_cluster_tagged_by_an_earlier_build(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(fake_azure, monkeypatch)
    retag_as_legacy(fake_azure)
    assert fake_azure.groups[GROUP]["tags"] == {"swarmstack:cluster": "swarm"}
    result = run(fake_azure, monkeypatch, "destroy", "--yes")
    assert result.exit_code == 0, result.output
    assert only_the_vault_is_left(fake_azure, json.loads(result.stdout)["kept_vault"])


def test_destroy_keeps_a_group_it_did_not_create(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(fake_azure, monkeypatch)
    fake_azure.groups[GROUP]["tags"] = {"owner": "platform-team"}
    result = run(fake_azure, monkeypatch, "destroy", "--yes")
    assert result.exit_code == 0, result.output
    assert "keep resource group swarm-rg: swarmstack did not create it" in result.stderr
    assert only_the_vault_is_left(fake_azure, json.loads(result.stdout)["kept_vault"])
    assert GROUP in fake_azure.groups


def test_destroy_needs_confirmation_without_a_terminal(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(fake_azure, monkeypatch)
    result = run(fake_azure, monkeypatch, "destroy")
    assert result.exit_code == 2
    assert "needs confirmation, and stdin is not a terminal" in result.stderr
    assert not [r for r in fake_azure.requests if r.method == "DELETE"]


def test_status_shows_each_resource(fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> None:
    deployed(fake_azure, monkeypatch)
    result = run(fake_azure, monkeypatch, "status")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    states = {row["key"]: row["state"] for row in status["resources"]}
    assert states == dict.fromkeys(resource_names(Names("swarm")), "Succeeded")
    sizes = {row["key"]: row.get("instances") for row in status["resources"]}
    assert sizes["managers"] == 3
    assert sizes["workers"] == 2
    assert status["public_ip"] == "198.18.0.10"


def test_azure_like_order_is_enforced_by_the_fake(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch, clients: AzureClients
) -> None:
    """Guards the order tests: deleting a resource still in use fails, as in Azure."""
    deployed(fake_azure, monkeypatch)
    with pytest.raises(HttpResponseError) as caught:
        clients.network.virtual_networks.begin_delete(GROUP, "swarm-vnet")
    assert caught.value.error is not None
    assert caught.value.error.code == "InUseResourceCannotBeDeleted"


def test_creating_before_dependencies_is_refused_by_the_fake(clients: AzureClients) -> None:
    """Guards the deploy-order tests: a body referring to a missing resource fails, as in Azure."""
    from .test_deploy import expected_resources

    clients.resources.resource_groups.create_or_update(GROUP, {"location": LOCATION})
    workers = next(r for r in expected_resources() if r.key == "workers")
    with pytest.raises(HttpResponseError) as caught:
        clients.compute.virtual_machine_scale_sets.begin_create_or_update(
            GROUP, workers.name, workers.body
        )
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidResourceReference"


def test_an_interrupted_destroy_resumes(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch, clients: AzureClients
) -> None:
    deployed(fake_azure, monkeypatch)
    fake_azure.hold("swarm-workers")

    def interrupt(event: Event) -> None:
        if event.key == "workers" and event.phase == "deleting":
            raise KeyboardInterrupt

    with pytest.raises(AzureInterrupted, match=r"destroy interrupted; still running in Azure"):
        destroy(clients, plan_destroy(clients, GROUP, "swarm"), interrupt, poll_seconds=0)
    plan = plan_destroy(clients, GROUP, "swarm")
    assert {t.key: t.state for t in plan.targets}["workers"] == "Deleting"
    events: list[Event] = []

    def release_when_resuming(event: Event) -> None:
        events.append(event)
        if event.key == "workers" and event.phase == "resuming":
            fake_azure.release("swarm-workers")

    destroy(clients, plan, release_when_resuming, poll_seconds=0)
    assert [e.phase for e in events if e.key == "workers"] == ["resuming", "deleted"]
    deletes = [r for r in fake_azure.requests if r.method == "DELETE" and "swarm-workers" in r.path]
    assert len(deletes) == 1
    assert only_the_vault_is_left(fake_azure, plan.kept_vault or "")
