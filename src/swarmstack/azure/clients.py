"""The management clients (resource groups, network, compute) behind one small facade.

Bodies are plain dicts in the REST shape (the SDK sends them as they are); responses come back
as dicts too, so planning compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from ..templates.azure.compute import VMSS
from ..templates.azure.network import LB, NSG, PUBLIC_IP, VNET
from .credentials import AzureCloud

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# Seconds between polls of a long-running operation when Azure sends no Retry-After.
DEFAULT_POLL_SECONDS = 5.0


@dataclass
class AzureClients:
    subscription_id: str
    cloud: AzureCloud
    resources: Any  # ResourceManagementClient
    network: Any  # NetworkManagementClient
    compute: Any  # ComputeManagementClient

    def operations(self, resource_type: str) -> Any:
        """The SDK operations group for a resource type (create_or_update / get / delete)."""
        table = {
            NSG: self.network.network_security_groups,
            VNET: self.network.virtual_networks,
            PUBLIC_IP: self.network.public_ip_addresses,
            LB: self.network.load_balancers,
            VMSS: self.compute.virtual_machine_scale_sets,
        }
        return table[resource_type]

    def close(self) -> None:
        for client in (self.resources, self.network, self.compute):
            client.close()


def connect(
    credential: TokenCredential,
    subscription_id: str,
    cloud: AzureCloud,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
) -> AzureClients:
    options: dict[str, Any] = {
        "base_url": cloud.arm_endpoint,
        "credential_scopes": cloud.scopes,
        "polling_interval": poll_seconds,
    }
    return AzureClients(
        subscription_id=subscription_id,
        cloud=cloud,
        resources=ResourceManagementClient(credential, subscription_id, **options),
        network=NetworkManagementClient(credential, subscription_id, **options),
        compute=ComputeManagementClient(credential, subscription_id, **options),
    )


def as_dict(model: Any) -> dict[str, Any]:
    """An SDK model (or dict) as a plain REST-shaped dict."""
    if model is None:
        return {}
    if isinstance(model, dict):
        return model
    return dict(model.as_dict())
