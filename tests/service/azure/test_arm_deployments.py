"""`swarmstack azure template` output deployed without swarmstack: a plain REST client and
azure-mgmt-resource against the fake Resource Manager's deployments endpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.mgmt.resource.deployments import DeploymentsMgmtClient
from azure.mgmt.resource.deployments.models import (
    Deployment,
    DeploymentParameter,
    DeploymentProperties,
)
from click.testing import CliRunner

from swarmstack.azure.clients import AzureClients
from swarmstack.cli.main import cli
from swarmstack.provisioners.local.sim.azure.resource_manager import FAKE_PUBLIC_IP, FakeAzure

from .conftest import CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION, TENANT, secret_credential

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000 ops@example"
API = "2024-03-01"
GROUP = "rg-byhand"
GROUP_PATH = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}"
DEPLOYMENTS = f"{GROUP_PATH}/providers/Microsoft.Resources/deployments"


def rendered_template(tmp_path: Path, *options: str) -> dict[str, Any]:
    out = tmp_path / "swarm.json"
    result = CliRunner().invoke(
        cli, ["azure", "template", "--name", "byhand", "--out", str(out), *options]
    )
    assert result.exit_code == 0, result.output
    template: dict[str, Any] = json.loads(out.read_text())
    return template


class Rest:
    """A plain REST client: a token from the client-credentials flow, then JSON over HTTPS."""

    def __init__(self, fake: FakeAzure) -> None:
        self.base = fake.base_url
        token = requests.post(
            f"{self.base}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scope": "https://management.azure.com/.default",
            },
            timeout=10,
        ).json()["access_token"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = path if path.startswith("https://") else f"{self.base}{path}?api-version={API}"
        return self.session.request(method, url, json=body, timeout=10)

    def wait(self, status_url: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status: dict[str, Any] = self.call("GET", status_url).json()
            if status["status"] not in ("Running", "Accepted"):
                return status
            assert time.monotonic() < deadline, "the deployment did not finish"
            time.sleep(0.05)


@pytest.fixture
def rest(fake_azure: FakeAzure) -> Rest:
    # (the fixture attached the deployments endpoint)
    client = Rest(fake_azure)
    reply = client.call("PUT", GROUP_PATH, {"location": "westeurope"})
    assert reply.status_code == 201
    return client


def deployment_body(template: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return {
        "properties": {
            "mode": "Incremental",
            "template": template,
            "parameters": {name: {"value": value} for name, value in parameters.items()},
        }
    }


def deploy_by_hand(rest: Rest, tmp_path: Path, *options: str) -> dict[str, Any]:
    """`azure template OPTIONS` (cluster "byhand") deployed as "by-hand" over plain REST;
    the deployment's outputs."""
    template = rendered_template(tmp_path, *options)
    reply = rest.call("PUT", f"{DEPLOYMENTS}/by-hand", deployment_body(template, sshPublicKey=KEY))
    assert rest.wait(reply.headers["Azure-AsyncOperation"])["status"] == "Succeeded"
    outputs: dict[str, Any] = rest.call("GET", f"{DEPLOYMENTS}/by-hand").json()["properties"][
        "outputs"
    ]
    return outputs


@pytest.mark.parametrize("storage", [[], ["--shared-storage"]], ids=["3+2", "3+2 shared storage"])
def test_a_plain_rest_deployment_creates_every_resource_and_returns_outputs(
    rest: Rest, fake_azure: FakeAzure, tmp_path: Path, storage: list[str]
) -> None:
    template = rendered_template(tmp_path, "--manager-size", "3", "--cluster-size", "2", *storage)
    reply = rest.call("PUT", f"{DEPLOYMENTS}/by-hand", deployment_body(template, sshPublicKey=KEY))
    assert reply.status_code == 201, reply.text
    assert reply.json()["properties"]["provisioningState"] == "Accepted"
    status = rest.wait(reply.headers["Azure-AsyncOperation"])
    assert status["status"] == "Succeeded", status

    deployment = rest.call("GET", f"{DEPLOYMENTS}/by-hand").json()["properties"]
    assert deployment["provisioningState"] == "Succeeded"
    outputs = deployment["outputs"]
    assert outputs["publicIpAddress"] == {"type": "String", "value": FAKE_PUBLIC_IP}
    assert outputs["sshFirstManager"]["value"] == f"ssh -p 50000 docker@{FAKE_PUBLIC_IP}"
    assert deployment["parameters"]["sshPublicKey"]["value"] == KEY
    assert len(deployment["outputResources"]) == len(template["resources"])

    # Every resource is in the fake's store, the scale sets sized by the parameters.
    stored_types = sorted(body["type"] for body in fake_azure.resources.values())
    assert stored_types == sorted(r["type"] for r in template["resources"])
    managers = fake_azure.resource("byhand-managers")
    workers = fake_azure.resource("byhand-workers")
    assert managers["sku"]["capacity"] == 3
    assert len(fake_azure.instances[managers["id"].lower()]) == 3
    assert len(fake_azure.instances[workers["id"].lower()]) == 2
    # The role assignments name the identities the scale sets were given.
    principals = {managers["identity"]["principalId"], workers["identity"]["principalId"]}
    assignments = [
        body
        for body in fake_azure.resources.values()
        if body["type"] == "Microsoft.Authorization/roleAssignments"
    ]
    assert assignments
    assert {a["properties"]["principalId"] for a in assignments} == principals
    # The boot script is there, and no join token is anywhere in it or in the outputs.
    assert len(fake_azure.custom_data) == 2
    for data in fake_azure.custom_data.values():
        assert "SWMTKN" not in data
    assert "SWMTKN" not in json.dumps(deployment)
    if storage:
        share = outputs["volumesNfsServer"]["value"]
        assert share == f"{outputs['volumesStorageAccount']['value']}.file.core.windows.net"

    operations = rest.call("GET", f"{DEPLOYMENTS}/by-hand/operations").json()["value"]
    assert len(operations) == len(template["resources"])
    assert {o["properties"]["provisioningState"] for o in operations} == {"Succeeded"}


def test_bad_parameters_are_refused_before_anything_is_created(
    rest: Rest, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    template = rendered_template(tmp_path)
    reply = rest.call(
        "PUT", f"{DEPLOYMENTS}/bad", deployment_body(template, sshPublicKey=KEY, managerCount=2)
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "InvalidTemplate"
    assert "'managerCount'" in error["message"]
    assert "'1,3,5,7'" in error["message"]
    assert fake_azure.resources == {}
    assert rest.call("GET", f"{DEPLOYMENTS}/bad").status_code == 404


def test_a_failing_resource_fails_the_deployment_with_its_error(
    rest: Rest, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    template = rendered_template(tmp_path, "--cluster-size", "1")
    fake_azure.fail("byhand-workers", "OperationNotAllowed", "Quota exceeded for VM cores.")
    reply = rest.call("PUT", f"{DEPLOYMENTS}/quota", deployment_body(template, sshPublicKey=KEY))
    status = rest.wait(reply.headers["Azure-AsyncOperation"])
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "DeploymentFailed"
    assert status["error"]["details"] == [
        {"code": "OperationNotAllowed", "message": "Quota exceeded for VM cores."}
    ]
    # Nothing that depends on the workers was attempted.
    workers_id = fake_azure.resource("byhand-workers")["id"].lower()
    for body in fake_azure.resources.values():
        if body["type"] == "Microsoft.Authorization/roleAssignments":
            assert not body["id"].lower().startswith(workers_id)


def test_a_deployment_still_running_cannot_be_started_again(
    rest: Rest, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    template = rendered_template(tmp_path)
    fake_azure.hold("byhand-vnet")
    body = deployment_body(template, sshPublicKey=KEY)
    first = rest.call("PUT", f"{DEPLOYMENTS}/twice", body)
    assert first.status_code == 201
    second = rest.call("PUT", f"{DEPLOYMENTS}/twice", body)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "DeploymentActive"
    fake_azure.release("byhand-vnet")
    assert rest.wait(first.headers["Azure-AsyncOperation"])["status"] == "Succeeded"


def test_validate_checks_without_creating(
    rest: Rest, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    template = rendered_template(tmp_path)
    reply = rest.call(
        "POST", f"{DEPLOYMENTS}/check/validate", deployment_body(template, sshPublicKey=KEY)
    )
    assert reply.status_code == 200, reply.text
    validated = reply.json()["properties"]["validatedResources"]
    assert len(validated) == len(template["resources"])
    assert fake_azure.resources == {}
    missing_key = rest.call("POST", f"{DEPLOYMENTS}/check/validate", deployment_body(template))
    assert missing_key.status_code == 400
    assert "'sshPublicKey' is not provided" in missing_key.json()["error"]["message"]


def test_the_sdk_deploys_the_template(
    clients: AzureClients, fake_azure: FakeAzure, tmp_path: Path
) -> None:
    """azure-mgmt-resource-deployments, as a user's script would call it."""
    # (the fixture attached the deployments endpoint)
    clients.resources.resource_groups.create_or_update(GROUP, {"location": "westeurope"})
    template = rendered_template(tmp_path, "--manager-size", "1", "--cluster-size", "0")
    sdk = DeploymentsMgmtClient(
        secret_credential(fake_azure),
        SUBSCRIPTION,
        base_url=fake_azure.base_url,
        credential_scopes=clients.cloud.scopes,
        polling_interval=0,
    )
    properties = DeploymentProperties(
        mode="Incremental",
        template=template,
        parameters={"sshPublicKey": DeploymentParameter(value=KEY)},
    )
    poller = sdk.deployments.begin_create_or_update(GROUP, "sdk", Deployment(properties=properties))
    result = poller.result().properties
    assert result is not None
    assert result.provisioning_state == "Succeeded"
    assert result.outputs is not None
    assert result.outputs["publicIpAddress"]["value"] == FAKE_PUBLIC_IP
    assert fake_azure.resource("byhand-managers")["sku"]["capacity"] == 1


def test_volume_mount_string_reads_the_share_of_a_by_hand_deployment(
    rest: Rest, fake_azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`volume mount-string -g` over the real SDK: it finds the storage account the template
    created and names its NFS share (the file endpoint Azure gives the account)."""
    outputs = deploy_by_hand(rest, tmp_path, "--manager-size", "1", "--shared-storage")
    account = outputs["volumesStorageAccount"]["value"]
    monkeypatch.setattr(
        "swarmstack.azure.credentials.default_credential", lambda _: secret_credential(fake_azure)
    )
    result = CliRunner().invoke(
        cli,
        ["-o", "json", "volume", "mount-string", "pgdata", "--name", "byhand", "-g", GROUP,
         "--subscription", SUBSCRIPTION, "--arm-endpoint", fake_azure.base_url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["server"] == f"{account}.file.core.windows.net"
    assert f"volume-opt=device=:/{account}/volumes/pgdata" in printed["mount"]
