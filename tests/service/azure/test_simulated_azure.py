"""The simulated Azure of `local up --cloud azure` (sim/azure: world, servers, deployments) on
loopback: a plain REST template deployment of `swarmstack azure template`'s output, then the
node agent's own Azure adapter as an instance of each scale set - instance metadata, its
identity's tokens, the join tokens in Key Vault and the state blobs, with the template's role
assignments enforced - and Scheduled Events when an instance is deleted.

All instances share 127.0.0.1 here, so the test moves the loopback address from one instance
to the other (the simulation tells machines apart by their address).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential

from swarmstack.azure.clients import as_dict, connect
from swarmstack.azure.credentials import AzureCloud
from swarmstack.provisioners.local.sim.azure.control import AzureUrls
from swarmstack.provisioners.local.sim.azure.local import deploy_template, sim_azure_environment
from swarmstack.provisioners.local.sim.azure.servers import BLOB_PREFIX, VAULT_PREFIX, Servers
from swarmstack.provisioners.local.sim.azure.world import (
    CLIENT_ID,
    CLIENT_SECRET,
    SUBSCRIPTION,
    TENANT,
    World,
)
from swarmstack.provisioners.nodeagent.azure import (
    AZURE_STATE_CONTAINER,
    PLACEHOLDER,
    AzureError,
    Cloud,
    LeavingWatcher,
    Metadata,
)
from swarmstack.spec import ClusterSpec
from swarmstack.templates.azure import arm_template, resolve_settings

GROUP = "swarm"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000 ops@example"
LOOPBACK = "127.0.0.1"
ARM_API = "api-version=2024-03-01"


@pytest.fixture
def simulated(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    cert, key = tls_files
    servers = Servers(World(), LOOPBACK, {"arm": 0, "services": 0, "imds": 0}, cert, key)
    servers.start()
    yield servers
    servers.stop()


def _call(url: str, method: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def deploy(servers: Servers, managers: int, workers: int) -> dict[str, Any]:
    """`az group create` + `az deployment group create`, as REST."""
    world = servers.services.world
    spec = ClusterSpec.model_validate(
        {"name": GROUP, "manager_size": managers, "cluster_size": workers}
    )
    template = arm_template(resolve_settings(spec, require_ssh_key=False))
    base = f"{servers.services_url}/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}"
    status, _ = _call(f"{base}?{ARM_API}", "PUT", world.rm.token, {"location": "westeurope"})
    assert status == 201
    body = {
        "properties": {
            "mode": "Incremental",
            "template": template,
            "parameters": {"sshPublicKey": {"value": KEY}},
        }
    }
    url = f"{base}/providers/Microsoft.Resources/deployments/swarm?{ARM_API}"
    status, answer = _call(url, "PUT", world.rm.token, body)
    assert status == 201, answer
    deadline = time.monotonic() + 30
    while answer["properties"]["provisioningState"] not in ("Succeeded", "Failed"):
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)
        status, answer = _call(url, "GET", world.rm.token)
    assert answer["properties"]["provisioningState"] == "Succeeded", answer
    return dict(answer)


def become(servers: Servers, scale_set: str, number: str) -> Cloud:
    """The node agent's cloud as instance NUMBER of the scale set (it gets 127.0.0.1)."""
    world = servers.services.world
    scale_set_id = next(b["id"].lower() for b in world.scale_sets() if b["name"] == scale_set)
    world.set_address(scale_set_id, number, LOOPBACK)
    metadata = Metadata(servers.imds_url, servers.imds_url)
    cloud = Cloud(metadata)
    cloud.vault_url = f"{servers.services_url}{VAULT_PREFIX}{cloud.where.vault}"
    cloud.blob_url = f"{servers.services_url}{BLOB_PREFIX}{cloud.where.storage}"
    cloud.management_url = servers.services_url
    return cloud


def test_a_plain_deployment_makes_instances_that_see_themselves_in_metadata(
    simulated: Servers,
) -> None:
    outputs = deploy(simulated, 1, 2)["properties"]["outputs"]
    assert "SWMTKN" not in json.dumps(outputs)
    manager = become(simulated, f"{GROUP}-managers", "0")
    compute = manager.metadata.compute()
    assert compute["name"] == f"{GROUP}-managers_0"
    assert compute["vmScaleSetName"] == f"{GROUP}-managers"
    assert compute["resourceGroupName"] == GROUP
    assert manager.metadata.address() == LOOPBACK
    assert manager.self_managing
    roles = sorted((i.id, i.role, i.address) for i in manager.instances())
    assert [r[:2] for r in roles] == [
        (f"{GROUP}-managers_0", "manager"),
        (f"{GROUP}-workers_0", "worker"),
        (f"{GROUP}-workers_1", "worker"),
    ]


def test_the_role_assignments_decide_who_reads_which_token(simulated: Servers) -> None:
    deploy(simulated, 1, 1)
    manager = become(simulated, f"{GROUP}-managers", "0")
    with pytest.raises(AzureError, match="TokenNotStoredYet"):
        manager.token("worker")  # the template's placeholder
    manager.put_tokens({"manager": "SWMTKN-1-m", "worker": "SWMTKN-1-w"})
    assert manager.token("manager") == "SWMTKN-1-m"
    assert manager.write_blob(AZURE_STATE_CONTAINER, "claim", "{}", create_only=True)
    assert not manager.write_blob(AZURE_STATE_CONTAINER, "claim", "{}", create_only=True)

    worker = become(simulated, f"{GROUP}-workers", "0")
    assert worker.token("worker") == "SWMTKN-1-w"
    with pytest.raises(AzureError, match="403 Forbidden"):
        worker.token("manager")
    with pytest.raises(AzureError, match="403 AuthorizationPermissionMismatch"):
        worker.write_blob(AZURE_STATE_CONTAINER, "swarm.json", "{}")
    assert worker.read_blob(AZURE_STATE_CONTAINER, "claim") == "{}"
    with pytest.raises(AzureError, match="403 AuthorizationFailed"):
        worker.instances()  # only the managers may list the scale sets
    assert PLACEHOLDER not in (manager.token("worker"), worker.token("worker"))


def test_a_deleted_instance_gets_a_terminate_event_and_goes_once_approved(
    simulated: Servers,
) -> None:
    deploy(simulated, 1, 2)
    world = simulated.services.world
    workers = next(b for b in world.scale_sets() if b["name"] == f"{GROUP}-workers")
    url = f"{simulated.services_url}{workers['id']}/delete?{ARM_API}"
    status, _ = _call(url, "POST", world.rm.token, {"instanceIds": ["1"]})
    assert status == 200
    assert world.settle_leaving() == []  # held by its event
    leaving = become(simulated, f"{GROUP}-workers", "1")
    events = leaving.metadata.scheduled_events()
    assert [(e["EventType"], e["Resources"]) for e in events] == [
        ("Terminate", [f"{GROUP}-workers_1"])
    ]
    manager = become(simulated, f"{GROUP}-managers", "0")
    states = {i.id: i.state for i in manager.instances()}
    assert states[f"{GROUP}-workers_1"] == "shutting-down"
    assert manager.metadata.scheduled_events() == []  # another scale set's event

    leaving = become(simulated, f"{GROUP}-workers", "1")
    watcher = LeavingWatcher(leaving, f"{GROUP}-workers_1", LOOPBACK)
    assert watcher.tick() == "posted"
    assert watcher.tick() == "waiting"
    notice = json.loads(leaving.read_blob("leaving", f"{GROUP}-workers_1") or "{}")
    leaving.write_blob("leaving", f"{GROUP}-workers_1", json.dumps({**notice, "done": True}))
    assert watcher.tick() == "approved"
    assert world.settle_leaving() == [f"{GROUP}-workers_1"]
    manager = become(simulated, f"{GROUP}-managers", "0")
    assert sorted(i.id for i in manager.instances()) == [
        f"{GROUP}-managers_0",
        f"{GROUP}-workers_0",
    ]
    assert workers["sku"]["capacity"] == 1


def test_an_unapproved_event_lets_the_instance_go_at_not_before(simulated: Servers) -> None:
    deploy(simulated, 1, 1)
    world = simulated.services.world
    workers = next(b for b in world.scale_sets() if b["name"] == f"{GROUP}-workers")
    workers["sku"]["capacity"] = 0
    world.rm.apply(workers["id"], {k: v for k, v in workers.items() if k != "id"})
    assert world.settle_leaving() == []
    assert world.settle_leaving(now=time.time() + 5 * 60 + 1) == [f"{GROUP}-workers_0"]


def test_the_sdk_deploys_the_template_scales_and_deletes_instances(
    simulated: Servers, tls_files: tuple[Path, Path]
) -> None:
    """What `local up --cloud azure` and the integration fixture do, through the real SDK
    and azure-identity over HTTPS: group + template deployment, a capacity PUT, an instance
    deletion held by its Terminate event."""
    cert, _ = tls_files
    urls = AzureUrls(simulated.arm_url, simulated.services_url, simulated.imds_url, str(cert))
    spec = ClusterSpec.model_validate({"name": GROUP, "manager_size": 1, "cluster_size": 1})
    outputs = deploy_template(spec, urls, GROUP, KEY, lambda _m: None)
    assert outputs["keyVaultName"]["value"].startswith("swarmkv")
    assert deploy_template(spec, urls, GROUP, KEY, lambda _m: None) == outputs  # kept
    world = simulated.services.world
    workers = next(b for b in world.scale_sets() if b["name"] == f"{GROUP}-workers")
    principal = workers["identity"]["principalId"]
    with sim_azure_environment(urls):
        credential = ClientSecretCredential(
            TENANT, CLIENT_ID, CLIENT_SECRET, authority=urls.arm, disable_instance_discovery=True
        )
        clients = connect(credential, SUBSCRIPTION, AzureCloud(urls.arm), poll_seconds=0)
        sets = clients.compute.virtual_machine_scale_sets
        body = as_dict(sets.get(GROUP, f"{GROUP}-workers"))
        body["sku"]["capacity"] = 3
        sets.begin_create_or_update(GROUP, f"{GROUP}-workers", body).result()
        numbers = [i["instanceId"] for i in world.rm.instances[workers["id"].lower()]]
        assert numbers == ["0", "1", "2"]
        sets.begin_delete_instances(GROUP, f"{GROUP}-workers", {"instanceIds": ["1"]}).result()
        balancer = clients.network.load_balancers.get(GROUP, f"{GROUP}-lb")
        assert as_dict(balancer)["properties"]["frontendIPConfigurations"]
        clients.close()
    workers = next(b for b in world.scale_sets() if b["name"] == f"{GROUP}-workers")
    assert workers["identity"]["principalId"] == principal  # kept across the PUT
    assert world.rm.custom_data[workers["id"].lower()]  # kept: Azure never returns it
    assert [leaving.instance_id for leaving in world.leaving.values()] == ["1"]
    assert workers["sku"]["capacity"] == 2
