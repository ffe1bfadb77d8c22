"""`azure destroy` of a cluster with shared storage: its private endpoint in the nodes' subnet
and the DNS pieces go before the network (Azure would refuse to delete the network or the zone
otherwise); the storage account with the volumes' data stays unless --delete-volumes."""

from __future__ import annotations

import json

import pytest

from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure

from .conftest import SUBSCRIPTION
from .test_deploy import GROUP, LOCATION, run


def _deploy_with_shared_storage(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(
        fake, monkeypatch, "deploy", "--location", LOCATION, "--shared-storage",
        "--yes", "--no-wait",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def _left(fake: FakeAzure) -> set[str]:
    """What is left of the group: resource types and names, children and vault aside."""
    prefix = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}/providers/".lower()
    return {
        rid.removeprefix(prefix)
        for rid in fake.resources
        if rid.startswith(prefix) and rid.removeprefix(prefix).count("/") == 2
        and "/vaults/" not in rid
    }  # fmt: skip


def test_destroy_keeps_the_volumes_and_deletes_the_rest(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deploy_with_shared_storage(fake_azure, monkeypatch)
    result = run(fake_azure, monkeypatch, "destroy", "--yes")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    account = out["kept_volumes"]
    assert account.startswith("swarmvol")
    assert f"keep storage account {account} with the service volumes" in result.stderr
    assert "--delete-volumes" in result.stderr
    deleted = {target["key"] for target in out["delete"]}
    assert {"vnet", "volumesEndpoint", "volumesDnsLink", "volumesDnsZone"} <= deleted
    assert "volumes" not in deleted
    # Only the account (with its share) is left of the cluster, beside the Key Vault.
    assert _left(fake_azure) == {f"microsoft.storage/storageaccounts/{account}"}
    share = [rid for rid in fake_azure.resources if rid.endswith("/shares/volumes")]
    assert share, "the share with the volumes' data is gone"


def test_the_endpoint_and_dns_go_before_the_network(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deploy_with_shared_storage(fake_azure, monkeypatch)
    fake_azure.log.clear()
    result = run(fake_azure, monkeypatch, "destroy", "--yes")
    assert result.exit_code == 0, result.output
    log = fake_azure.log
    network = log.index(("delete requested", "swarm-vnet"))
    assert log.index(("deleted", "swarm-volumes-pe")) < network
    zone = log.index(("delete requested", "privatelink.file.core.windows.net"))
    assert log.index(("deleted", "swarm-volumes-pe")) < zone


def test_delete_volumes_deletes_the_account_too(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deploy_with_shared_storage(fake_azure, monkeypatch)
    result = run(fake_azure, monkeypatch, "destroy", "--delete-volumes", "--yes")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kept_volumes"] is None
    assert "volumes" in {target["key"] for target in out["delete"]}
    assert _left(fake_azure) == set()
    assert not [rid for rid in fake_azure.resources if "/storageaccounts/" in rid]


def test_the_confirmation_names_the_data(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deploy_with_shared_storage(fake_azure, monkeypatch)
    result = run(fake_azure, monkeypatch, "destroy", "--delete-volumes")  # no terminal, no --yes
    assert result.exit_code == 2, result.output
    assert "with the data of its service volumes: needs confirmation" in result.stderr
    assert [rid for rid in fake_azure.resources if "/storageaccounts/swarmvol" in rid]
