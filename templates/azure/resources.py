"""The cluster's resources in dependency order, each with its body and what it depends on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...spec import Role
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
from .settings import AzureSettings


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


def build_resources(settings: AzureSettings, refs: Refs) -> list[AzureResource]:
    """Every resource of the cluster; dependencies always come before their dependents."""
    names = settings.names
    net = NETWORK_API_VERSION
    resources = [
        AzureResource("nsg", NSG, names.nsg, net, security_group(settings, refs)),
        AzureResource("publicIp", PUBLIC_IP, names.public_ip, net, public_ip(settings, refs)),
        AzureResource(
            "vnet", VNET, names.vnet, net, virtual_network(settings, refs), depends_on=("nsg",)
        ),
        AzureResource(
            "loadBalancer",
            LB,
            names.load_balancer,
            net,
            load_balancer(settings, refs),
            depends_on=("publicIp",),
        ),
    ]
    roles: tuple[tuple[Role, str], ...] = (("manager", names.managers), ("worker", names.workers))
    for role, name in roles:
        resources.append(
            AzureResource(
                f"{role}s",
                VMSS,
                name,
                COMPUTE_API_VERSION,
                scale_set(settings, refs, role),
                depends_on=("vnet", "loadBalancer"),
                accepted_findings=_scale_set_findings(settings),
            )
        )
    if 80 in settings.spec.published_ports:
        nsg = resources[0]
        resources[0] = AzureResource(
            nsg.key,
            nsg.type,
            nsg.name,
            nsg.api_version,
            nsg.body,
            nsg.depends_on,
            (
                "CKV_AZURE_160: port 80 is a published application port (published_ports) "
                "served to the world on purpose; swarm and SSH ports are never open to it",
            ),
        )
    return resources


def _scale_set_findings(settings: AzureSettings) -> tuple[str, ...]:
    findings = [
        "CKV_AZURE_95: automatic OS image upgrades would reimage swarm managers and workers "
        "without draining them and can break raft quorum; swarmstack replaces nodes in order",
    ]
    if not settings.encryption_at_host:
        findings.append(
            "CKV_AZURE_97: encryption at host needs the EncryptionAtHost feature registered on "
            "the subscription, so it is opt-in (--encryption-at-host); managed disks are "
            "always encrypted at rest with platform-managed keys"
        )
    return tuple(findings)
