"""Read what exists and decide, per resource: create, update, resume or no change."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from ..contract import CLUSTER_TAG, tagged_cluster
from ..errors import AzureResourceNotOurs
from ..templates.azure import AzureResource
from .clients import AzureClients, as_dict
from .diff import differences
from .failures import azure_errors

TERMINAL_STATES = frozenset({"Succeeded", "Failed", "Canceled"})


@dataclass(frozen=True)
class Change:
    resource: AzureResource
    action: str  # create | update | resume | no change
    differences: tuple[str, ...] = ()
    state: str | None = None  # provisioningState now, when the resource exists
    capacity: tuple[int, int] | None = None  # scale sets: (now, wanted) when it changes

    @property
    def scales_in(self) -> bool:
        return self.capacity is not None and self.capacity[1] < self.capacity[0]

    @property
    def label(self) -> str:
        return label(self.resource)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "key": self.resource.key,
            "name": self.resource.name,
            "type": self.resource.type,
            "action": self.action,
        }
        if self.differences:
            result["differences"] = list(self.differences)
        if self.state:
            result["state"] = self.state
        if self.capacity is not None:
            result["capacity"] = {"from": self.capacity[0], "to": self.capacity[1]}
        return result


@dataclass(frozen=True)
class Plan:
    group: str
    location: str
    create_group: bool
    group_tags: dict[str, str]
    changes: tuple[Change, ...]
    # The cluster's last template deployment: missing | running | failed | outdated | current
    deployment: str = "missing"

    @property
    def has_changes(self) -> bool:
        return (
            self.create_group
            or self.deployment != "current"
            or any(c.action != "no change" for c in self.changes)
        )

    def with_deployment(self, state: str) -> Plan:
        return replace(self, deployment=state)

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource_group": {
                "name": self.group,
                "action": "create" if self.create_group else "no change",
            },
            "location": self.location,
            "deployment": self.deployment,
            "resources": [change.as_dict() for change in self.changes],
        }


def label(resource: AzureResource) -> str:
    return f"{resource.key} ({resource.name})"


def make_plan(
    clients: AzureClients,
    group: str,
    location: str,
    cluster: str,
    tags: dict[str, str],
    resources: list[AzureResource],
) -> Plan:
    with azure_errors(f"resource group {group}"):
        try:
            clients.resources.resource_groups.get(group)
            create_group = False
        except ResourceNotFoundError:
            create_group = True
    if create_group:
        changes = tuple(Change(resource, "create") for resource in resources)
    else:
        with ThreadPoolExecutor(max_workers=len(resources)) as pool:
            found = list(pool.map(lambda r: _change(clients, group, cluster, r), resources))
        changes = tuple(found)
    return Plan(group, location, create_group, {**tags, CLUSTER_TAG: cluster}, changes)


def read(clients: AzureClients, group: str, resource: AzureResource) -> dict[str, Any] | None:
    """The resource as Azure has it, or None when it does not exist."""
    with azure_errors(label(resource)):
        try:
            found = clients.operations(resource.type).get(group, resource.name)
        except ResourceNotFoundError:
            return None
    return as_dict(found)


def compare(resource: AzureResource, actual: dict[str, Any] | None) -> Change:
    if actual is None:
        return Change(resource, "create")
    state = actual.get("properties", {}).get("provisioningState")
    if state is not None and state not in TERMINAL_STATES:
        return Change(resource, "resume", state=state)
    found = differences(resource.body, actual)
    if found or state == "Failed":
        return Change(resource, "update", tuple(found), state, _capacity(resource, actual))
    return Change(resource, "no change", state=state)


def _change(clients: AzureClients, group: str, cluster: str, resource: AzureResource) -> Change:
    actual = read(clients, group, resource)
    if actual is not None and tagged_cluster(actual.get("tags")) != cluster:
        raise AzureResourceNotOurs(
            f"{resource.type} {resource.name} exists in {group} but is not tagged "
            f"{CLUSTER_TAG}={cluster}; swarmstack will not change it",
            hint="choose another cluster name (--name) or another resource group",
        )
    return compare(resource, actual)


def _capacity(resource: AzureResource, actual: dict[str, Any]) -> tuple[int, int] | None:
    now = (actual.get("sku") or {}).get("capacity")
    wanted = (resource.body.get("sku") or {}).get("capacity")
    if isinstance(now, int) and isinstance(wanted, int) and now != wanted:
        return now, wanted
    return None
