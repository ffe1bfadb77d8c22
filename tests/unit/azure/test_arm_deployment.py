"""Template deployments in the simulated Resource Manager: parameters, order, conditions,
copy loops, reference() and outputs."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from swarmstack.provisioners.local.sim.azure import (
    ArmError,
    DeploymentScope,
    ResourcePut,
    TemplateDeployment,
)

SCOPE = DeploymentScope("sub-1", "rg", "westeurope", "tenant-1")
NSG = "Microsoft.Network/networkSecurityGroups"
VNET = "Microsoft.Network/virtualNetworks"
IP = "Microsoft.Network/publicIPAddresses"


def group_id(kind: str, *names: str) -> str:
    path = "/".join(f"{k}/{n}" for k, n in zip(kind.split("/")[1:], names, strict=True))
    return f"/subscriptions/sub-1/resourceGroups/rg/providers/{kind.split('/')[0]}/{path}"


def resource(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "apiVersion": "2024-01-01", "name": name, **extra}


class Store:
    """Applies PUTs like a Resource Manager would: keeps the body, adds what Azure adds."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}

    def lookup(self, resource_id: str, _api_version: str | None) -> Mapping[str, Any] | None:
        return self.resources.get(resource_id.lower())

    def apply(self, put: ResourcePut) -> None:
        body = {**copy.deepcopy(put.body), "id": put.resource_id, "name": put.name}
        body["type"] = put.type
        body.setdefault("properties", {})["provisioningState"] = "Succeeded"
        if put.type == IP:
            body["properties"]["ipAddress"] = "198.18.0.10"
        self.resources[put.resource_id.lower()] = body


def deploy(
    template: dict[str, Any], parameters: dict[str, Any] | None = None, store: Store | None = None
) -> tuple[list[ResourcePut], dict[str, Any]]:
    store = store or Store()
    deployment = TemplateDeployment(template, parameters or {}, SCOPE, store.lookup)
    puts = []
    for put in deployment.puts():
        store.apply(put)
        puts.append(put)
    return puts, deployment.outputs()


def refused(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> ArmError:
    with pytest.raises(ArmError) as caught:
        deploy(template, parameters)
    return caught.value


# --- parameters ----------------------------------------------------------------------------

PARAMETERS = {
    "count": {"type": "int", "defaultValue": 3, "allowedValues": [1, 3, 5, 7]},
    "workers": {"type": "int", "defaultValue": 5, "minValue": 0, "maxValue": 1000},
    "key": {"type": "string", "minLength": 10},
    "secret": {"type": "securestring", "defaultValue": "s3cr3t-value", "maxLength": 20},
    "prune": {"type": "bool", "defaultValue": False},
    "where": {"type": "string", "defaultValue": "[resourceGroup().location]"},
}


def with_parameters(**outputs: str) -> dict[str, Any]:
    return {
        "parameters": PARAMETERS,
        "outputs": {name: {"type": "string", "value": v} for name, v in outputs.items()},
    }


def test_defaults_and_supplied_values() -> None:
    template = with_parameters(
        all="[format('{0} {1} {2} {3}', parameters('count'), parameters('workers'), "
        "parameters('prune'), parameters('where'))]"
    )
    _, outputs = deploy(template, {"key": "ssh-ed25519 AAAA", "workers": 0})
    assert outputs["all"]["value"] == "3 0 False westeurope"


@pytest.mark.parametrize(
    ("supplied", "problem"),
    [
        ({}, "The value for the template parameter 'key' is not provided"),
        ({"key": "k" * 10, "typo": 1}, "do not correspond to any parameters defined in the "),
        ({"key": "k" * 10, "count": "3"}, "expected a value of type 'Integer', but received"),
        ({"key": "k" * 10, "count": True}, "expected a value of type 'Integer'"),
        ({"key": "k" * 10, "prune": "false"}, "expected a value of type 'Boolean'"),
        ({"key": "k" * 10, "count": 2}, "not part of the allowed value(s): '1,3,5,7'"),
        ({"key": "k" * 10, "workers": 1001}, "must be less than or equal to 1000"),
        ({"key": "k" * 10, "workers": -1}, "must be greater than or equal to 0"),
        ({"key": "short"}, "its length must be at least 10"),
    ],
)
def test_bad_parameters_are_refused_before_any_put(supplied: dict[str, Any], problem: str) -> None:
    error = refused(with_parameters(), supplied)
    assert error.code == "InvalidTemplate"
    assert problem in error.message


def test_secure_values_stay_out_of_messages() -> None:
    error = refused(with_parameters(), {"key": "k" * 10, "secret": "x" * 21 + "-hidden"})
    assert "its length must be at most 20" in error.message
    assert "hidden" not in error.message
    assert "(secure value)" in error.message


def test_outputs_are_checked_against_their_type() -> None:
    template = {"outputs": {"count": {"type": "string", "value": "[add(1, 2)]"}}}
    error = refused(template)
    assert "output 'count' is not valid: expected a value of type 'String'" in error.message
    template["outputs"]["count"]["type"] = "int"
    assert deploy(template)[1] == {"count": {"type": "Int", "value": 3}}


def test_secure_outputs_are_left_out() -> None:
    template = with_parameters(shown="[parameters('where')]")
    template["outputs"]["hidden"] = {"type": "securestring", "value": "[parameters('secret')]"}
    _, outputs = deploy(template, {"key": "k" * 10})
    assert set(outputs) == {"shown"}


# --- order -------------------------------------------------------------------------------


def test_puts_follow_depends_on_then_template_order() -> None:
    template = {
        "resources": [
            resource(VNET, "vnet", dependsOn=[f"[resourceId('{NSG}', 'nsg')]"]),
            resource(IP, "ip"),
            resource(NSG, "nsg", properties={"securityRules": []}),
            resource(f"{VNET}/subnets", "vnet/a", dependsOn=["vnet"]),  # by name
            resource(f"{VNET}/subnets", "vnet/b", dependsOn=[f"{VNET}/vnet"]),  # type/name
        ]
    }
    puts, _ = deploy(template)
    assert [p.name for p in puts] == ["ip", "nsg", "vnet", "vnet/a", "vnet/b"]
    assert puts[3].resource_id == group_id(f"{VNET}/subnets", "vnet", "a")
    assert puts[1].body == {"properties": {"securityRules": []}}  # no type, name, dependsOn
    assert puts[1].api_version == "2024-01-01"


def test_cycles_are_refused_naming_the_resources() -> None:
    error = refused(
        {
            "resources": [
                resource(NSG, "a", dependsOn=["b"]),
                resource(NSG, "b", dependsOn=["c"]),
                resource(NSG, "c", dependsOn=["a"]),
                resource(IP, "free"),
            ]
        }
    )
    assert "circular dependency" in error.message
    for name in ("'a'", "'b'", "'c'"):
        assert name in error.message
    assert "'free'" not in error.message


def test_unknown_dependencies_and_duplicates_are_refused() -> None:
    error = refused({"resources": [resource(NSG, "a", dependsOn=["[resourceId('x/y', 'z')]"])]})
    assert "The resource '/subscriptions/sub-1/resourceGroups/rg/providers/x/y/z' is not " in (
        error.message
    )
    assert "dependsOn of resource" in error.message
    error = refused({"resources": [resource(NSG, "a"), resource(NSG, "A")]})
    assert "defined multiple times" in error.message


def test_conditions_skip_resources_and_their_dependencies_hold() -> None:
    ip = resource(IP, "ip", condition="[parameters('storage')]")
    template = {
        "parameters": {"storage": {"type": "bool", "defaultValue": False}},
        "resources": [
            ip,
            resource(NSG, "nsg", dependsOn=["ip"]),
        ],
    }
    assert [p.name for p in deploy(template)[0]] == ["nsg"]
    assert [p.name for p in deploy(template, {"storage": True})[0]] == ["ip", "nsg"]
    ip["condition"] = "yes"
    assert "condition must be a boolean" in refused(template).message


def test_copy_loops_expand_and_can_be_depended_on() -> None:
    template = {
        "parameters": {"n": {"type": "int", "defaultValue": 3}},
        "resources": [
            resource(NSG, "after", dependsOn=["ips"]),
            resource(
                IP,
                "[format('ip-{0}', copyIndex(1))]",
                copy={"name": "ips", "count": "[parameters('n')]"},
                properties={
                    "index": "[copyIndex()]",
                    "copy": [{"name": "tags", "count": 2, "input": "[copyIndex('tags')]"}],
                },
            ),
        ],
    }
    puts, _ = deploy(template)
    assert [p.name for p in puts] == ["ip-1", "ip-2", "ip-3", "after"]
    assert puts[2].body["properties"] == {"index": 2, "tags": [0, 1]}
    assert [p.name for p in deploy(template, {"n": 0})[0]] == ["after"]


# --- reference() and outputs ----------------------------------------------------------------


def test_reference_reads_what_the_store_applied() -> None:
    ip_id = f"resourceId('{IP}', 'ip')"
    template = {
        "resources": [
            resource(IP, "ip", location="[resourceGroup().location]"),
            resource(
                NSG,
                "nsg",
                dependsOn=[f"[{ip_id}]"],
                properties={
                    "address": f"[reference({ip_id}).ipAddress]",
                    "where": f"[reference({ip_id}, '2024-01-01', 'Full').location]",
                    "byName": "[reference('ip').provisioningState]",
                },
            ),
        ],
        "outputs": {"ip": {"type": "string", "value": f"[reference({ip_id}).ipAddress]"}},
    }
    puts, outputs = deploy(template)
    assert puts[1].body["properties"] == {
        "address": "198.18.0.10",
        "where": "westeurope",
        "byName": "Succeeded",
    }
    assert outputs == {"ip": {"type": "String", "value": "198.18.0.10"}}


def test_reference_before_the_resource_is_deployed_names_the_missing_dependency() -> None:
    template = {
        "resources": [
            resource(NSG, "nsg", properties={"x": f"[reference(resourceId('{IP}', 'ip'))]"}),
            resource(IP, "ip"),
        ]
    }
    error = refused(template)
    assert "not deployed yet: add it to the dependsOn" in error.message
    assert "resource 'Microsoft.Network/networkSecurityGroups' 'nsg' properties" in error.message


def test_reference_to_a_resource_outside_the_template_asks_the_store() -> None:
    store = Store()
    outside = group_id(IP, "existing")
    store.resources[outside.lower()] = {"properties": {"ipAddress": "198.18.0.99"}}
    template = {
        "outputs": {"ip": {"type": "string", "value": f"[reference('{outside}').ipAddress]"}}
    }
    assert deploy(template, store=store)[1]["ip"]["value"] == "198.18.0.99"
    error = refused({"outputs": {"ip": {"type": "object", "value": f"[reference('{outside}x')]"}}})
    assert error.code == "ResourceNotFound"


def test_reference_is_refused_where_arm_evaluates_before_deploying() -> None:
    error = refused({"resources": [resource(IP, "[reference('x').name]")]})
    assert "reference() cannot be used in a resource's type, name" in error.message
    assert "resources[0].name" in error.message


def test_reference_is_refused_in_variables_even_when_first_read_by_a_body() -> None:
    template = {
        "variables": {"address": f"[reference(resourceId('{IP}', 'ip')).ipAddress]"},
        "resources": [
            resource(IP, "ip"),
            resource(NSG, "nsg", dependsOn=["ip"], properties={"a": "[variables('address')]"}),
        ],
    }
    error = refused(template)
    assert "reference() cannot be used" in error.message
    assert "variables.address" in error.message


def test_extension_resources_get_ids_under_their_scope() -> None:
    role = "Microsoft.Authorization/roleAssignments"
    template = {
        "resources": [
            resource(NSG, "nsg"),
            resource(
                role,
                "[guid('a')]",
                scope=f"[format('{NSG}/{{0}}', 'nsg')]",
                dependsOn=["nsg"],
            ),
        ]
    }
    puts, _ = deploy(template)
    assert puts[1].resource_id.startswith(group_id(NSG, "nsg") + f"/providers/{role}/")
