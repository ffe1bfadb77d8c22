"""Azure's reading of the cluster spec: cloud defaults, Azure-only choices, and names.

Everything here is decided before any cloud call, so bad input fails fast with one line per
parameter (naming it, the value, and what is allowed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ...errors import SpecError
from ...spec import AWS_DISK_TYPES, AZURE_VM_SIZE, ClusterSpec

DEFAULT_VM_SIZE = "Standard_D2s_v5"
DEFAULT_DISK_TYPE = "Premium_LRS"
# Premium SSD v2 cannot be an OS disk; the OS disk of such a scale set uses Premium SSD.
OS_DISK_TYPE_FOR = {"PremiumV2_LRS": "Premium_LRS"}
OS_DISK_GIB = 30
ADMIN_USERNAME = "docker"
AZURE_ZONES = ("1", "2", "3")
IMAGE = {"publisher": "Debian", "offer": "debian-12", "sku": "12-gen2", "version": "latest"}
SSH_NAT_FIRST_PORT = 50000
# Azure keeps 5 addresses of every subnet for itself.
AZURE_RESERVED_ADDRESSES = 5


@dataclass(frozen=True)
class Names:
    """Resource names, all derived from the cluster name so several clusters share a group."""

    cluster: str

    @property
    def nsg(self) -> str:
        return f"{self.cluster}-nsg"

    @property
    def vnet(self) -> str:
        return f"{self.cluster}-vnet"

    subnet = "nodes"

    @property
    def public_ip(self) -> str:
        return f"{self.cluster}-ip"

    @property
    def load_balancer(self) -> str:
        return f"{self.cluster}-lb"

    frontend = "public"
    apps_pool = "apps"
    managers_pool = "managers"
    outbound_pool = "outbound"
    ssh_nat_rule = "ssh-managers"
    outbound_rule = "outbound"

    @property
    def managers(self) -> str:
        return f"{self.cluster}-managers"

    @property
    def workers(self) -> str:
        return f"{self.cluster}-workers"


@dataclass(frozen=True)
class AzureSettings:
    """The spec plus what Azure needs resolved: sizes, disk SKUs, zones, host encryption."""

    spec: ClusterSpec
    manager_vm_size: str
    worker_vm_size: str
    manager_disk_type: str
    worker_disk_type: str
    zones: tuple[str, ...]
    encryption_at_host: bool
    ssh_public_key: str | None
    admin_username: str = ADMIN_USERNAME

    @property
    def names(self) -> Names:
        return Names(self.spec.name)


def resolve_settings(
    spec: ClusterSpec, *, encryption_at_host: bool = False, require_ssh_key: bool = True
) -> AzureSettings:
    """Resolve the spec for Azure; raises SpecError listing every problem at once.

    ``require_ssh_key`` is False for the ARM template, where the key becomes a required
    parameter the user supplies at deployment time.
    """
    problems: list[str] = []
    manager_size = _vm_size("manager_instance_type", spec.manager_instance_type, problems)
    worker_size = _vm_size("instance_type", spec.instance_type, problems)
    manager_disk = _disk_type("manager_disk_type", spec.manager_disk_type, problems)
    worker_disk = _disk_type("worker_disk_type", spec.worker_disk_type, problems)
    zones = tuple(spec.zones) or AZURE_ZONES
    bad_zones = [zone for zone in zones if zone not in AZURE_ZONES]
    if bad_zones:
        problems.append(
            f"zones={','.join(spec.zones)}: must be Azure availability zones 1, 2 and/or 3 "
            "(unset = all three)"
        )
    if spec.ssh_public_key is None and require_ssh_key:
        problems.append(
            "ssh_public_key=null: must be set on Azure (scale sets allow SSH keys only, "
            "no passwords), like 'ssh-ed25519 AAAA... you@example'"
        )
    if spec.existing_vpc_id is not None:
        problems.append(
            f"existing_vpc_id={spec.existing_vpc_id}: is an AWS VPC and cannot be used on Azure"
        )
    if spec.existing_subnet_ids:
        problems.append(
            f"existing_subnet_ids={','.join(spec.existing_subnet_ids)}: deploying into an "
            "existing subnet is not supported on Azure yet; leave it unset for a new network"
        )
    vnet = spec.vpc_cidr or "172.31.0.0/16"
    usable = ipaddress.ip_network(vnet).num_addresses - AZURE_RESERVED_ADDRESSES
    nodes = spec.manager_size + spec.cluster_size
    if usable < nodes:
        problems.append(
            f"vpc_cidr={vnet}: has {max(usable, 0)} usable addresses for {nodes} nodes; "
            "use a larger network (a /22 holds 1019)"
        )
    if problems:
        raise SpecError(problems)
    return AzureSettings(
        spec=spec,
        manager_vm_size=manager_size,
        worker_vm_size=worker_size,
        manager_disk_type=manager_disk,
        worker_disk_type=worker_disk,
        zones=zones,
        encryption_at_host=encryption_at_host,
        ssh_public_key=spec.ssh_public_key,
    )


def _vm_size(parameter: str, value: str | None, problems: list[str]) -> str:
    if value is None:
        return DEFAULT_VM_SIZE
    if not AZURE_VM_SIZE.fullmatch(value):
        problems.append(
            f"{parameter}={value}: must be an Azure VM size like {DEFAULT_VM_SIZE} "
            "(this looks like an AWS instance type; unset = "
            f"{DEFAULT_VM_SIZE})"
        )
    return value


def _disk_type(parameter: str, value: str | None, problems: list[str]) -> str:
    if value is None:
        return DEFAULT_DISK_TYPE
    if value in AWS_DISK_TYPES:
        problems.append(
            f"{parameter}={value}: must be an Azure disk SKU like {DEFAULT_DISK_TYPE} "
            f"(this is an AWS volume type; unset = {DEFAULT_DISK_TYPE})"
        )
    return value
