"""The cluster's resources in dependency order, each with its body and what it depends on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .compute import COMPUTE_API_VERSION, VMSS, scale_set
from .network import (
    LB,
    NETWORK_API_VERSION,
    NSG,
    PUBLIC_IP,
    VNET,
    load_balancer,
    public_ip,
    security_group,
    virtual_network,
)
from .refs import Refs
from .settings import AzureSettings, Names

# key, type, depends on: the cluster's shape. Destroy uses it too (it needs no bodies).
LAYOUT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nsg", NSG, ()),
    ("publicIp", PUBLIC_IP, ()),
    ("vnet", VNET, ("nsg",)),
    ("loadBalancer", LB, ("publicIp",)),
    ("managers", VMSS, ("vnet", "loadBalancer")),
    ("workers", VMSS, ("vnet", "loadBalancer")),
)
API_VERSIONS = {
    NSG: NETWORK_API_VERSION,
    PUBLIC_IP: NETWORK_API_VERSION,
    VNET: NETWORK_API_VERSION,
    LB: NETWORK_API_VERSION,
    VMSS: COMPUTE_API_VERSION,
}


@dataclass(frozen=True)
class AzureResource:
    """One resource: `key` is its logical name in plans, progress and the ARM template."""

    key: str
    type: str
    name: str
    api_version: str
    body: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    # checkov findings accepted on purpose, "CHECK_ID: why" (written into the ARM template).
    accepted_findings: tuple[str, ...] = field(default=(), compare=False)


def resource_names(names: Names) -> dict[str, str]:
    """Logical key -> Azure resource name."""
    return {
        "nsg": names.nsg,
        "publicIp": names.public_ip,
        "vnet": names.vnet,
        "loadBalancer": names.load_balancer,
        "managers": names.managers,
        "workers": names.workers,
    }


def build_resources(settings: AzureSettings, refs: Refs) -> list[AzureResource]:
    """Every resource of the cluster; dependencies always come before their dependents."""
    bodies = {
        "nsg": security_group(settings, refs),
        "publicIp": public_ip(settings, refs),
        "vnet": virtual_network(settings, refs),
        "loadBalancer": load_balancer(settings, refs),
        "managers": scale_set(settings, refs, "manager"),
        "workers": scale_set(settings, refs, "worker"),
    }
    findings = _accepted_findings(settings)
    names = resource_names(settings.names)
    return [
        AzureResource(
            key, kind, names[key], API_VERSIONS[kind], bodies[key], deps, findings.get(key, ())
        )
        for key, kind, deps in LAYOUT
    ]


def _accepted_findings(settings: AzureSettings) -> dict[str, tuple[str, ...]]:
    """Static-analysis findings that are deliberate, with the reason (see README, Security)."""
    scale_sets = [
        "CKV_AZURE_95: automatic OS image upgrades would reimage swarm nodes in place, with "
        "no Terminate event to drain them first, and can break raft quorum; the upgrade "
        "policy is Manual, so instances change only when an operator upgrades them, and nodes "
        "leave through scale-in or deletion, where the node agent of a template-deployed "
        "cluster drains, demotes (keeping quorum) and removes them on the Terminate event",
    ]
    if not settings.encryption_at_host:
        scale_sets.append(
            "CKV_AZURE_97: encryption at host needs the EncryptionAtHost feature registered on "
            "the subscription, so it is opt-in (--encryption-at-host); managed disks are "
            "always encrypted at rest with platform-managed keys"
        )
    result = {"managers": tuple(scale_sets), "workers": tuple(scale_sets)}
    if 80 in settings.spec.published_ports:
        result["nsg"] = (
            "CKV_AZURE_160: port 80 is a published application port (published_ports), "
            "served to the world on purpose; swarm and SSH ports are never open to it",
        )
    return result
