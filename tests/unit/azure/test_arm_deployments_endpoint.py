"""The simulated deployments API over an in-memory store (no HTTP): replies, states, errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from swarmstack.provisioners.local.sim.azure import ArmError, ResourcePut
from swarmstack.provisioners.local.sim.azure.deployments import DeploymentsEndpoint

SUB = "sub-1"
BASE = "https://127.0.0.1:1"
DEPLOYMENTS = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Resources/deployments"
NSG = "Microsoft.Network/networkSecurityGroups"
TEMPLATE: dict[str, Any] = {
    "parameters": {
        "password": {"type": "securestring"},
        "count": {"type": "int", "defaultValue": 1},
    },
    "resources": [
        {
            "type": NSG,
            "apiVersion": "2024-01-01",
            "name": "a",
            "location": "[resourceGroup().location]",
        },
        {"type": NSG, "apiVersion": "2024-01-01", "name": "b", "dependsOn": ["a"]},
    ],
    "outputs": {
        "where": {"type": "string", "value": "[reference('a', '2024-01-01', 'Full').location]"},
        "secret": {"type": "securestring", "value": "[parameters('password')]"},
    },
}


class Store:
    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, Exception] = {}

    def resource_group(self, subscription_id: str, name: str) -> Mapping[str, Any] | None:
        if (subscription_id, name) != (SUB, "rg"):
            return None
        return {"name": "rg", "location": "westeurope", "tags": {}}

    def put_resource(self, put: ResourcePut) -> None:
        failure = self.failures.get(put.name)
        if failure:
            raise failure
        self.resources[put.resource_id.lower()] = {**copy.deepcopy(put.body), "id": put.resource_id}

    def get_resource(self, resource_id: str) -> Mapping[str, Any] | None:
        return self.resources.get(resource_id.lower())


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def endpoint(store: Store) -> DeploymentsEndpoint:
    return DeploymentsEndpoint(store, "tenant-1")


def body(template: dict[str, Any] = TEMPLATE, **properties: Any) -> dict[str, Any]:
    return {
        "properties": {
            "mode": "Incremental",
            "template": template,
            "parameters": {"password": {"value": "hunter2-not-shown"}},
            **properties,
        }
    }


def put(endpoint: DeploymentsEndpoint, name: str, payload: Any) -> Any:
    return endpoint.handle("PUT", f"{DEPLOYMENTS}/{name}", "2024-03-01", payload, BASE)


def get(endpoint: DeploymentsEndpoint, path: str) -> Any:
    return endpoint.handle("GET", path, "2024-03-01", None, BASE)


def test_a_deployment_runs_and_keeps_secure_values_out_of_every_reply(
    endpoint: DeploymentsEndpoint, store: Store
) -> None:
    reply = put(endpoint, "d1", body())
    assert reply.status == 201
    assert reply.body["properties"]["provisioningState"] == "Accepted"
    status_url = reply.headers["Azure-AsyncOperation"]
    assert status_url.startswith(f"{BASE}{DEPLOYMENTS}/d1/operationStatuses/")
    assert status_url.endswith("?api-version=2024-03-01")
    assert endpoint.wait(f"{DEPLOYMENTS}/d1", timeout=10) == "Succeeded"
    status_path = status_url.removeprefix(BASE).split("?")[0]
    assert get(endpoint, status_path).body["status"] == "Succeeded"
    deployment = get(endpoint, f"{DEPLOYMENTS}/d1").body
    properties = deployment["properties"]
    assert properties["outputs"] == {"where": {"type": "String", "value": "westeurope"}}
    assert properties["parameters"]["password"] == {"type": "SecureString"}
    assert properties["parameters"]["count"] == {"type": "Int", "value": 1}
    assert [r["id"].rsplit("/", 1)[-1] for r in properties["outputResources"]] == ["a", "b"]
    operations = get(endpoint, f"{DEPLOYMENTS}/d1/operations").body["value"]
    assert [o["properties"]["targetResource"]["resourceName"] for o in operations] == ["a", "b"]
    everything = json.dumps([reply.body, deployment, operations])
    assert "hunter2" not in everything
    assert len(store.resources) == 2
    listed = get(endpoint, DEPLOYMENTS).body["value"]
    assert [d["name"] for d in listed] == ["d1"]


def test_a_failing_put_fails_the_deployment_and_stops_it(
    endpoint: DeploymentsEndpoint, store: Store
) -> None:
    store.failures["a"] = ArmError("SkuNotAvailable", "The requested size is not available.")
    put(endpoint, "d2", body())
    assert endpoint.wait(f"{DEPLOYMENTS}/d2", timeout=10) == "Failed"
    properties = get(endpoint, f"{DEPLOYMENTS}/d2").body["properties"]
    assert properties["error"]["code"] == "DeploymentFailed"
    assert properties["error"]["details"] == [
        {"code": "SkuNotAvailable", "message": "The requested size is not available."}
    ]
    operations = get(endpoint, f"{DEPLOYMENTS}/d2/operations").body["value"]
    assert len(operations) == 1  # b, which depends on a, was never attempted
    assert operations[0]["properties"]["provisioningState"] == "Failed"
    assert store.resources == {}


def test_a_store_bug_still_ends_the_deployment(endpoint: DeploymentsEndpoint, store: Store) -> None:
    store.failures["b"] = RuntimeError("boom")
    put(endpoint, "d3", body())
    assert endpoint.wait(f"{DEPLOYMENTS}/d3", timeout=10) == "Failed"
    error = get(endpoint, f"{DEPLOYMENTS}/d3").body["properties"]["error"]
    assert error == {"code": "InternalServerError", "message": "RuntimeError: boom"}


@pytest.mark.parametrize(
    ("payload", "status", "code", "words"),
    [
        ({}, 400, "InvalidRequestContent", "no 'properties'"),
        (body(mode="Complete"), 400, "InvalidRequestContent", "mode 'Complete' is not supported"),
        (body(templateLink={"uri": "https://x"}), 400, "InvalidRequestContent", "inline"),
        (
            body(parameters={"password": {"reference": {"keyVault": {"id": "x"}}}}),
            400,
            "InvalidRequestContent",
            "no Key Vault references",
        ),
        (body(parameters={}), 400, "InvalidTemplate", "'password' is not provided"),
        (body(template={"resources": {}}), 400, "InvalidTemplate", "'resources' must be an array"),
    ],
)
def test_bad_requests_are_refused_at_once(
    endpoint: DeploymentsEndpoint,
    store: Store,
    payload: Any,
    status: int,
    code: str,
    words: str,
) -> None:
    reply = put(endpoint, "bad", payload)
    assert reply.status == status
    assert reply.body["error"]["code"] == code
    assert words in reply.body["error"]["message"]
    assert store.resources == {}
    assert get(endpoint, f"{DEPLOYMENTS}/bad").status == 404


def test_routes_answer_like_resource_manager(endpoint: DeploymentsEndpoint) -> None:
    no_version = endpoint.handle("GET", f"{DEPLOYMENTS}/x", None, None, BASE)
    assert no_version.body["error"]["code"] == "MissingApiVersionParameter"
    other_group = DEPLOYMENTS.replace("/rg/", "/nope/")
    assert get(endpoint, f"{other_group}/x").body["error"]["code"] == "ResourceGroupNotFound"
    assert get(endpoint, f"{DEPLOYMENTS}/x").body["error"]["code"] == "DeploymentNotFound"
    put(endpoint, "d4", body())
    endpoint.wait(f"{DEPLOYMENTS}/d4", timeout=10)
    assert get(endpoint, f"{DEPLOYMENTS}/d4/operationStatuses/other").status == 404
    delete = endpoint.handle("DELETE", f"{DEPLOYMENTS}/d4", "2024-03-01", None, BASE)
    assert delete.status == 200
    assert get(endpoint, f"{DEPLOYMENTS}/d4").status == 404
    assert not DeploymentsEndpoint.matches(f"/subscriptions/{SUB}/resourceGroups/rg")
    bad_name = put(endpoint, "no spaces", body())
    assert bad_name.body["error"]["code"] == "InvalidDeploymentName"


def test_validate_applies_nothing(endpoint: DeploymentsEndpoint, store: Store) -> None:
    reply = endpoint.handle("POST", f"{DEPLOYMENTS}/v/validate", "2024-03-01", body(), BASE)
    assert reply.status == 200
    validated = [r["id"].rsplit("/", 1)[-1] for r in reply.body["properties"]["validatedResources"]]
    assert validated == ["a", "b"]
    assert store.resources == {}
    assert get(endpoint, f"{DEPLOYMENTS}/v").status == 404
