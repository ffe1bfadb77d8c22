"""What the cluster looks like in Azure now: each resource's state, sizes and the public IP."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from ..errors import AzureClusterNotFound
from ..templates.azure.resources import LAYOUT, resource_names
from ..templates.azure.settings import Names
from .clients import AzureClients, as_dict
from .failures import azure_errors


def cluster_status(clients: AzureClients, group: str, cluster: str) -> dict[str, Any]:
    names = resource_names(Names(cluster))
    with azure_errors(f"resource group {group}"):
        try:
            clients.resources.resource_groups.get(group)
        except ResourceNotFoundError:
            # The same situation as `aws status` on a missing stack, so the same exit code.
            raise AzureClusterNotFound(
                f"resource group {group} does not exist",
                hint=f"create the cluster with: swarmstack azure deploy -g {group}",
            ) from None
    rows = []
    public_ip = None
    for key, kind, _ in LAYOUT:
        with azure_errors(f"{key} ({names[key]})"):
            try:
                found = as_dict(clients.operations(kind).get(group, names[key]))
            except ResourceNotFoundError:
                rows.append({"key": key, "name": names[key], "type": kind, "state": "absent"})
                continue
        properties = found.get("properties", {})
        row: dict[str, Any] = {
            "key": key,
            "name": names[key],
            "type": kind,
            "state": properties.get("provisioningState", "unknown"),
        }
        if "capacity" in (found.get("sku") or {}):
            row["instances"] = found["sku"]["capacity"]
            row["size"] = found["sku"].get("name")
        if key == "publicIp":
            public_ip = properties.get("ipAddress")
        rows.append(row)
    if all(row["state"] == "absent" for row in rows):
        raise AzureClusterNotFound(
            f"no resources of cluster {cluster} in resource group {group}",
            hint="check --name (or the spec's name), or create it with swarmstack azure deploy",
        )
    return {"resource_group": group, "exists": True, "public_ip": public_ip, "resources": rows}
