"""Scale-set bodies: managers across zones (1/3/5/7) and workers (0..1000).

Uniform orchestration with manual upgrades: swarm nodes carry raft and service state, so the
platform must never reimage them on its own. swarmstack does not drain or replace scale-set
nodes yet (deploy warns before a scale-in).
"""

from __future__ import annotations

from typing import Any

from ...contract import ROLE_TAG, SYSTEM_PRUNE_TAG, TAG_PREFIX
from ...spec import Role
from .customdata import custom_data, digest
from .network import LB_POOL, SUBNET, tags
from .refs import Refs
from .settings import IMAGE, OS_DISK_GIB, AzureSettings

COMPUTE_API_VERSION = "2026-04-01"
VMSS = "Microsoft.Compute/virtualMachineScaleSets"
# Azure never returns customData; this tag carries its digest so a changed boot script shows
# up as a difference.
CUSTOM_DATA_TAG = f"{TAG_PREFIX}custom-data-sha256"


def scale_set(settings: AzureSettings, refs: Refs, role: Role) -> dict[str, Any]:
    names = settings.names
    manager = role == "manager"
    prefix = "manager" if manager else "worker"
    disk_type_param = f"{prefix}DiskType"
    lb = names.load_balancer
    pools = [names.managers_pool] if manager else [names.apps_pool]
    if manager and settings.spec.cluster_size == 0:
        pools.append(names.apps_pool)  # no workers: the managers serve the published ports
    pools.append(names.outbound_pool)
    encoded = custom_data(settings, role)
    security: dict[str, Any] = {
        "securityType": "TrustedLaunch",
        "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
    }
    if settings.encryption_at_host:
        security["encryptionAtHost"] = True
    admin = refs.param("adminUsername")
    home = refs.format_param("/home/{0}/.ssh/authorized_keys", "adminUsername")
    return {
        "location": refs.param("location"),
        "tags": {
            **tags(settings),
            ROLE_TAG: role,
            CUSTOM_DATA_TAG: digest(encoded),
            # The node agent enables the daily prune timer from this tag.
            SYSTEM_PRUNE_TAG: "yes" if settings.spec.enable_system_prune else "no",
        },
        "zones": list(settings.zones),
        "sku": {
            "name": refs.param(f"{prefix}VmSize"),
            "tier": "Standard",
            "capacity": refs.param(f"{prefix}Count"),
        },
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "orchestrationMode": "Uniform",
            "upgradePolicy": {"mode": "Manual"},
            "overprovision": False,  # extra instances would take NAT ports and join the swarm
            "singlePlacementGroup": False,  # more than 100 instances
            "platformFaultDomainCount": 1,  # max spreading within each zone
            "zoneBalance": True,
            "virtualMachineProfile": {
                "osProfile": {
                    "computerNamePrefix": f"{settings.spec.name}-{prefix[0]}",
                    "adminUsername": admin,
                    "customData": encoded,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "provisionVMAgent": True,
                        "ssh": {
                            "publicKeys": [{"path": home, "keyData": refs.param("sshPublicKey")}]
                        },
                    },
                },
                "storageProfile": {
                    "imageReference": dict(IMAGE),
                    "osDisk": {
                        "createOption": "FromImage",
                        "caching": "ReadWrite",
                        "diskSizeGB": OS_DISK_GIB,
                        "managedDisk": {"storageAccountType": refs.os_disk_type(disk_type_param)},
                    },
                    "dataDisks": [
                        {
                            # /var/lib/docker; cloud-init formats and mounts LUN 0.
                            "lun": 0,
                            "createOption": "Empty",
                            "caching": "None",
                            "diskSizeGB": refs.param(f"{prefix}DiskSizeGB"),
                            "managedDisk": {"storageAccountType": refs.param(disk_type_param)},
                        }
                    ],
                },
                "networkProfile": {
                    "networkInterfaceConfigurations": [
                        {
                            "name": "nic",
                            "properties": {
                                "primary": True,
                                "ipConfigurations": [
                                    {
                                        "name": "ipconfig",
                                        "properties": {
                                            "primary": True,
                                            "subnet": {
                                                "id": refs.resource_id(
                                                    SUBNET, names.vnet, names.subnet
                                                )
                                            },
                                            "loadBalancerBackendAddressPools": [
                                                {"id": refs.resource_id(LB_POOL, lb, pool)}
                                                for pool in pools
                                            ],
                                        },
                                    }
                                ],
                            },
                        }
                    ]
                },
                "securityProfile": security,
                # Managed boot diagnostics storage: no storage account to secure.
                "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            },
        },
    }
