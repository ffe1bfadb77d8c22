"""What the cluster looks like in Azure now: each resource's state, sizes and the public IP,
and each node as it reports itself on its serial console (node_records.py): no SSH."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from ..errors import AzureClusterNotFound
from ..templates.azure.resources import LAYOUT, resource_names
from ..templates.azure.settings import Names
from .clients import AzureClients, as_dict
from .discover import Node, discover
from .failures import azure_errors
from .node_records import last_record, read_console

# Boot diagnostics reads at once (two calls per node).
READERS = 8


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
    result = {"resource_group": group, "exists": True, "public_ip": public_ip, "resources": rows}
    if all(row["state"] != "absent" for row in rows):
        result["nodes"] = node_rows(clients, group, cluster)
    return result


def node_rows(clients: AzureClients, group: str, cluster: str) -> list[dict[str, Any]]:
    """Each scale-set instance with what its last console record says (none yet: null)."""
    discovery = discover(clients, group, Names(cluster), admin_username="")

    def row(node: Node) -> dict[str, Any]:
        instance = f"{node.scale_set}_{node.instance_id}"
        console = read_console(clients, group, node.scale_set, node.instance_id)
        record = last_record(console, instance)
        return {
            "name": node.name,
            "role": node.role,
            "instance": instance,
            "address": node.private_ip,
            "zone": node.zone,
            "recorded": record is not None,
            "ready": record.ready if record else None,
            "host_keys": record.host_keys if record else None,
        }

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        return list(pool.map(row, discovery.nodes))
