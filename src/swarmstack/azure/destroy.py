"""Delete the cluster's resources in reverse dependency order, then the group if it is ours.

Only resources tagged with the cluster's name (contract.CLUSTER_TAG, or the key earlier builds
wrote) are deleted; the resource group only when swarmstack created it (same tag)
and nothing else lives in it. The storage account where the nodes keep the swarm's state goes
too (a later deployment must not find a record of a swarm that no longer exists); the Key
Vault stays: with purge protection a deleted vault keeps its name for days, and the next
deployment of the cluster reuses it (the template resets its token secrets).

Shared storage (templates/azure/storage.py): its private endpoint sits in the nodes' subnet,
so it goes before the network, and with it the private DNS zone's link to the network (and
the zone when no other network is linked to it: Azure refuses to delete a zone that still has
links). The storage account with the service volumes stays unless --delete-volumes asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from ..contract import tagged_cluster
from ..provisioners.nodeagent.azure import AZURE_STORAGE_TAG, AZURE_VAULT_TAG
from ..templates.azure.resources import LAYOUT, resource_names
from ..templates.azure.selfmanaging import STORAGE, STORAGE_API_VERSION
from ..templates.azure.settings import Names
from ..templates.azure.storage import (
    ACCOUNT_PREFIX,
    DNS_LINK,
    PRIVATE_DNS_API_VERSION,
    PRIVATE_DNS_ZONE,
    PRIVATE_ENDPOINT,
    PRIVATE_ENDPOINT_API_VERSION,
    ZONE_PREFIX,
    volumes_endpoint_name,
)
from .clients import AzureClients, as_dict
from .engine import EventSink, Step, StepContext, run_steps, wait
from .failures import azure_errors, error_for

GROUP_STEP = "resourceGroup"
# The shared storage's resources, found by type and name: (key, type, what it depends on).
VOLUMES_LAYOUT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("volumesDnsZone", PRIVATE_DNS_ZONE, ()),
    ("volumesDnsLink", DNS_LINK, ("volumesDnsZone", "vnet")),
    ("volumes", STORAGE, ()),
    ("volumesEndpoint", PRIVATE_ENDPOINT, ("vnet", "volumes", "volumesDnsZone")),
)
API_VERSIONS = {
    STORAGE.lower(): STORAGE_API_VERSION,
    PRIVATE_DNS_ZONE.lower(): PRIVATE_DNS_API_VERSION,
    DNS_LINK.lower(): PRIVATE_DNS_API_VERSION,
    PRIVATE_ENDPOINT.lower(): PRIVATE_ENDPOINT_API_VERSION,
}


@dataclass(frozen=True)
class Target:
    key: str
    type: str
    name: str
    state: str | None = None  # "Deleting": an earlier destroy was interrupted
    resource_id: str = ""  # set for types outside the layout: deleted by id

    @property
    def label(self) -> str:
        return f"{self.key} ({self.name})"


@dataclass
class DestroyPlan:
    group: str
    group_exists: bool
    targets: list[Target] = field(default_factory=list)
    delete_group: bool = False
    keep_group_reason: str = ""
    kept_vault: str | None = None  # the cluster's Key Vault, kept on purpose
    kept_volumes: str | None = None  # the storage account of the service volumes, kept

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource_group": self.group,
            "delete": [{"key": t.key, "name": t.name, "type": t.type} for t in self.targets],
            "delete_group": self.delete_group,
            "keep_group_reason": self.keep_group_reason or None,
            "kept_vault": self.kept_vault,
            "kept_volumes": self.kept_volumes,
        }


def plan_destroy(
    clients: AzureClients, group: str, cluster: str, *, delete_volumes: bool = False
) -> DestroyPlan:
    with azure_errors(f"resource group {group}"):
        try:
            group_body = as_dict(clients.resources.resource_groups.get(group))
        except ResourceNotFoundError:
            return DestroyPlan(group, group_exists=False)
    plan = DestroyPlan(group, group_exists=True)
    names = resource_names(Names(cluster))
    node_tags: dict[str, str] = {}  # the scale sets' tags name the vault and state storage
    for key, kind, _ in LAYOUT:
        with azure_errors(f"{key} ({names[key]})"):
            try:
                found = as_dict(clients.operations(kind).get(group, names[key]))
            except ResourceNotFoundError:
                continue
        if tagged_cluster(found.get("tags")) == cluster:
            state = found.get("properties", {}).get("provisioningState")
            plan.targets.append(Target(key, kind, names[key], state))
            node_tags.update(found.get("tags") or {})
    with azure_errors(f"resources of {group}"):
        listed = list(map(as_dict, clients.resources.resources.list_by_resource_group(group)))
    state_account = node_tags.get(AZURE_STORAGE_TAG, "").lower()
    for resource in listed:
        if (
            resource["name"].lower() == state_account
            and resource.get("type", "").lower() == STORAGE.lower()
            and tagged_cluster(resource.get("tags")) == cluster
        ):
            plan.targets.append(Target("state", STORAGE, resource["name"], None, resource["id"]))
    volumes = _volume_targets(listed, cluster, names["vnet"])
    if not delete_volumes and "volumes" in volumes:
        plan.kept_volumes = volumes.pop("volumes").name
    plan.targets += volumes.values()
    vault = node_tags.get(AZURE_VAULT_TAG)
    ours = {t.name.lower() for t in plan.targets}
    others = [r["name"] for r in listed if r["name"].lower() not in ours]
    if vault and vault.lower() in {name.lower() for name in others}:
        plan.kept_vault = vault
    if tagged_cluster(group_body.get("tags")) != cluster:
        plan.keep_group_reason = "swarmstack did not create it"
    elif plan.kept_vault:
        plan.keep_group_reason = f"it holds the cluster's Key Vault {plan.kept_vault}"
    elif others:
        plan.keep_group_reason = f"it also holds {', '.join(sorted(others)[:5])}"
    else:
        plan.delete_group = True
    return plan


def _volume_targets(listed: list[dict[str, Any]], cluster: str, vnet: str) -> dict[str, Target]:
    """The shared storage's resources in the group's listing, by VOLUMES_LAYOUT key."""

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r for r in listed if r.get("type", "").lower() == kind.lower()]

    def ours(resource: dict[str, Any]) -> bool:
        return tagged_cluster(resource.get("tags")) == cluster

    found: dict[str, dict[str, Any]] = {}
    for resource in of_type(PRIVATE_ENDPOINT):
        if resource["name"] == volumes_endpoint_name(cluster) and ours(resource):
            found["volumesEndpoint"] = resource
    for resource in of_type(STORAGE):
        if resource["name"].startswith(ACCOUNT_PREFIX) and ours(resource):
            found["volumes"] = resource
    links = of_type(DNS_LINK)
    for zone in of_type(PRIVATE_DNS_ZONE):
        if not zone["name"].startswith(ZONE_PREFIX):
            continue
        zone_links = [r for r in links if r["id"].lower().startswith(zone["id"].lower() + "/")]
        our_links = [
            r for r in zone_links if r["id"].lower().endswith("/" + vnet.lower()) and ours(r)
        ]
        if our_links:
            found["volumesDnsLink"] = our_links[0]
        # The zone's name is the same for every cluster in the group: it goes with the last.
        if ours(zone) and len(zone_links) == len(our_links):
            found["volumesDnsZone"] = zone
    kinds = {key: kind for key, kind, _ in VOLUMES_LAYOUT}
    return {
        key: Target(key, kinds[key], resource["name"], None, resource["id"])
        for key, resource in found.items()
    }


def destroy(
    clients: AzureClients, plan: DestroyPlan, on_event: EventSink, poll_seconds: float
) -> None:
    keys = {target.key for target in plan.targets}
    dependents = {
        key: frozenset(k for k, _, deps in (*LAYOUT, *VOLUMES_LAYOUT) if key in deps and k in keys)
        for key in keys
    }
    steps = [
        Step(
            target.key,
            target.label,
            _delete(clients, plan.group, target, poll_seconds),
            dependents[target.key],
        )
        for target in plan.targets
    ]
    if plan.delete_group:
        steps.append(
            Step(
                GROUP_STEP,
                f"{GROUP_STEP} ({plan.group})",
                _delete_group(clients, plan.group),
                frozenset(keys),
            )
        )
    failures = run_steps(steps, on_event, verb="destroy")
    if failures:
        raise error_for(failures)


def _delete(clients: AzureClients, group: str, target: Target, poll_seconds: float) -> Any:
    if target.resource_id:
        return _delete_by_id(clients, target)
    operations = clients.operations(target.type)

    def run(context: StepContext) -> None:
        if target.state == "Deleting":
            # An earlier destroy was interrupted: wait for that delete instead of racing it.
            context.emit("resuming", "waiting for Deleting")
            while True:
                try:
                    operations.get(group, target.name)
                except ResourceNotFoundError:
                    context.emit("deleted")
                    return
                context.sleep(poll_seconds)
        _deleted(context, operations.begin_delete(group, target.name))

    return run


def _delete_by_id(clients: AzureClients, target: Target) -> Any:
    def run(context: StepContext) -> None:
        resources = clients.resources.resources
        api_version = API_VERSIONS[target.type.lower()]
        poller = resources.begin_delete_by_id(target.resource_id, api_version=api_version)
        _deleted(context, poller)

    return run


def _delete_group(clients: AzureClients, group: str) -> Any:
    def run(context: StepContext) -> None:
        _deleted(context, clients.resources.resource_groups.begin_delete(group))

    return run


def _deleted(context: StepContext, poller: Any) -> None:
    """Report a delete Azure accepted, wait for it, report it done."""
    context.emit("deleting")
    wait(context, poller)
    context.emit("deleted")
