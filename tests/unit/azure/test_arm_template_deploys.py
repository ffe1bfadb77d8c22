"""`swarmstack azure template` output, deployed by the simulated Resource Manager: every
resource PUT once, in an order that respects every dependency, nothing left unevaluated, and
the role assignments' principals read from the scale sets' identities through reference()."""

from __future__ import annotations

import copy
import functools
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from swarmstack.provisioners.local.sim.azure import (
    ArmError,
    DeploymentScope,
    ResourcePut,
    TemplateDeployment,
)
from swarmstack.templates.azure import AzureSettings, arm_template, resolve_settings

from .cases import KEY, cases, spec

SCOPE = DeploymentScope("00000000-1111-4222-8333-444444444444", "rg-swarm", "westeurope", "t-1")
VMSS = "Microsoft.Compute/virtualMachineScaleSets"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


class Store:
    """What Azure adds on a PUT that the template reads back: identities, a public IP."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}

    def lookup(self, resource_id: str, _api_version: str | None) -> Mapping[str, Any] | None:
        return self.resources.get(resource_id.lower())

    def apply(self, put: ResourcePut) -> None:
        body = {**copy.deepcopy(put.body), "id": put.resource_id, "type": put.type}
        if body.get("identity", {}).get("type") == "SystemAssigned":
            body["identity"]["principalId"] = str(uuid.uuid4())
        if put.type == "Microsoft.Network/publicIPAddresses":
            body.setdefault("properties", {})["ipAddress"] = "198.18.0.10"
        self.resources[put.resource_id.lower()] = body


@functools.cache
def variants() -> dict[str, tuple[AzureSettings, dict[str, Any]]]:
    """Settings and the parameters supplied at deployment time."""
    settings_of = cases()
    result: dict[str, tuple[AzureSettings, dict[str, Any]]] = {
        name: (settings, {"sshPublicKey": KEY}) for name, settings in settings_of.items()
    }
    result["managers-only"] = (settings_of["managers-only"], {})  # the key is in the template
    result["3+2"] = (
        resolve_settings(spec(manager_size=3, cluster_size=2), require_ssh_key=False),
        {"sshPublicKey": KEY},
    )
    result["1+0 by parameters"] = (
        resolve_settings(spec(), require_ssh_key=False),
        {"sshPublicKey": KEY, "managerCount": 1, "workerCount": 0},
    )
    return result


@functools.cache
def template_of(name: str) -> dict[str, Any]:
    return arm_template(variants()[name][0])  # about a second: render once per variant


@functools.cache
def deployed(name: str) -> tuple[dict[str, Any], list[ResourcePut], dict[str, Any], Store]:
    """The variant deployed once; tests only read the results."""
    return deploy(template_of(name), variants()[name][1])


def deploy(
    template: dict[str, Any], parameters: dict[str, Any]
) -> tuple[dict[str, Any], list[ResourcePut], dict[str, Any], Store]:
    store = Store()
    deployment = TemplateDeployment(template, parameters, SCOPE, store.lookup)
    puts = []
    for put in deployment.puts():
        store.apply(put)
        puts.append(put)
    return template, puts, deployment.outputs(), store


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@pytest.mark.parametrize("name", sorted(variants()))
def test_every_resource_is_put_once_with_nothing_left_unevaluated(name: str) -> None:
    template, puts, outputs, _ = deployed(name)
    assert len(puts) == len(template["resources"])
    assert sorted(p.type for p in puts) == sorted(r["type"] for r in template["resources"])
    assert len({p.resource_id.lower() for p in puts}) == len(puts)
    for put in puts:
        assert put.resource_id.startswith(
            "/subscriptions/00000000-1111-4222-8333-444444444444/resourceGroups/rg-swarm/"
        )
        for text in (put.resource_id, put.api_version, *strings(put.body)):
            assert not text.startswith("["), f"{put.resource_id}: {text[:80]}"
    for text in strings(outputs):
        assert not text.startswith("["), text
    assert outputs["publicIpAddress"]["value"] == "198.18.0.10"
    assert outputs["sshFirstManager"]["value"].endswith("@198.18.0.10")


@pytest.mark.parametrize("name", sorted(variants()))
def test_nothing_is_put_before_what_it_refers_to(name: str) -> None:
    """Checked on the results, not on the evaluator's own graph: any id of another resource
    of this deployment in a body, or the resource's parent or scope, was PUT before it."""
    _, puts, _, _ = deployed(name)
    ours = {p.resource_id.lower(): position for position, p in enumerate(puts)}
    for position, put in enumerate(puts):
        own = put.resource_id.lower()
        parent = own.rsplit("/", 2)[0]
        scope = own.split("/providers/microsoft.authorization/")[0]
        for text in [*strings(put.body), parent, scope]:
            key = text.lower()
            while key.count("/") > 8 and key not in ours:
                key = key.rsplit("/", 2)[0]  # a child (subnet, rule) of a deployed resource
            if key in ours and key != own:
                assert ours[key] < position, f"{put.resource_id} is PUT before {text}"


@pytest.mark.parametrize("name", sorted(variants()))
def test_scale_sets_take_their_sizes_from_the_parameters(name: str) -> None:
    settings, parameters = variants()[name]
    template, puts, _, _ = deployed(name)
    defaults = {k: v.get("defaultValue") for k, v in template["parameters"].items()}
    counts = {**defaults, **parameters}
    scale_sets = {p.name: p.body for p in puts if p.type == VMSS}
    names = settings.names
    assert scale_sets[names.managers]["sku"]["capacity"] == counts["managerCount"]
    assert scale_sets[names.workers]["sku"]["capacity"] == counts["workerCount"]
    profile = scale_sets[names.managers]["properties"]["virtualMachineProfile"]
    assert profile["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] == KEY


@pytest.mark.parametrize("name", sorted(variants()))
def test_role_assignments_name_the_scale_sets_identities(name: str) -> None:
    settings, _ = variants()[name]
    _, puts, _, store = deployed(name)
    principal = {
        p.name: store.resources[p.resource_id.lower()]["identity"]["principalId"]
        for p in puts
        if p.type == VMSS
    }
    names = settings.names
    managers, workers = principal[names.managers], principal[names.workers]
    assignments = [p for p in puts if p.type == ROLE_ASSIGNMENT]
    assert assignments
    for put in assignments:
        assert put.body["properties"]["principalId"] in (managers, workers)
        assert uuid.UUID(put.name).version == 5
    roles_on = {
        (
            p.body["properties"]["principalId"],
            p.body["properties"]["roleDefinitionId"].rsplit("/")[-1],
            p.resource_id.split("/providers/Microsoft.Authorization/")[0].rsplit("/", 1)[-1],
        )
        for p in assignments
    }
    # Workers read the worker token only; managers read and write both.
    assert (workers, SECRETS_USER, "swarm-worker-token") in roles_on
    assert not any(who == workers and scope == "swarm-manager-token" for who, _, scope in roles_on)
    assert (managers, SECRETS_OFFICER, "swarm-manager-token") in roles_on
    assert (managers, SECRETS_OFFICER, "swarm-worker-token") in roles_on


def test_the_same_deployment_gives_the_same_names() -> None:
    first = [p.resource_id for p in deployed("default")[1]]
    again = deploy(template_of("default"), variants()["default"][1])[1]
    assert first == [p.resource_id for p in again]


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"managerCount": 2}, "not part of the allowed value(s): '1,3,5,7'"),
        ({"workerCount": 1001}, "must be less than or equal to 1000"),
        ({"managerDiskType": "Ultra"}, "'managerDiskType' is not valid"),
        ({}, "'sshPublicKey' is not provided"),
    ],
)
def test_bad_parameters_are_refused_like_arm_refuses_them(
    parameters: dict[str, Any], problem: str
) -> None:
    supplied = {"sshPublicKey": KEY, **parameters} if parameters else {}
    with pytest.raises(ArmError) as caught:
        deploy(template_of("default"), supplied)
    assert problem in caught.value.message
