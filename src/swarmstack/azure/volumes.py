"""Find the cluster's NFS storage account (templates/azure/storage.py) in its resource group.

Its name holds a hash Resource Manager computed (uniqueString), so it is found by type, name
prefix and the cluster tag rather than derived here.
"""

from __future__ import annotations

from typing import Any

from ..contract import tagged_cluster
from ..errors import AzureClusterNotFound
from ..templates.azure.storage import ACCOUNT, ACCOUNT_PREFIX, STORAGE_API_VERSION
from .clients import AzureClients, as_dict
from .failures import azure_errors


def find_volumes_account(clients: AzureClients, group: str, cluster: str) -> dict[str, Any]:
    """The storage account body (with its endpoints), or AzureClusterNotFound."""
    with azure_errors(f"storage accounts of {group}"):
        listed = [
            as_dict(r)
            for r in clients.resources.resources.list_by_resource_group(
                group, filter=f"resourceType eq '{ACCOUNT}'"
            )
        ]
    ours = [
        r
        for r in listed
        if r.get("name", "").startswith(ACCOUNT_PREFIX) and tagged_cluster(r.get("tags")) == cluster
    ]
    if not ours:
        raise AzureClusterNotFound(
            f"cluster {cluster} in resource group {group} has no shared storage account",
            hint="deploy the ARM template of `swarmstack azure template --shared-storage`",
        )
    with azure_errors(f"storage account {ours[0]['name']}"):
        resource_id = ours[0]["id"]
        return as_dict(
            clients.resources.resources.get_by_id(resource_id, api_version=STORAGE_API_VERSION)
        )
