"""Shared storage for service volumes on Azure: an NFS 4.1 share on Azure Files (Premium).

What Docker for Azure's Cloudstor did on Azure File Storage, without the plugin and without a
storage key: NFS 4.1 shares authenticate nothing but the network, so the share is reachable
only through a private endpoint in the nodes' subnet (publicNetworkAccess Disabled; a private
DNS zone makes ACCOUNT.file.<storage suffix> resolve to the endpoint inside the virtual
network). A service endpoint would have kept the account's public endpoint enabled (behind a
network rule), which checkov's CKV_AZURE_59 rightly flags; the private endpoint has no public
side at all. Nothing secret reaches the nodes: they mount by name.

These resources are part of the cluster's ARM template, which `azure deploy` and a by-hand
deployment submit alike. `azure destroy` deletes the endpoint and the DNS pieces with the
network (an endpoint in the subnet would block the network's deletion) and keeps the account
with its data unless asked (--delete-volumes).
"""

from __future__ import annotations

from typing import Any

from .network import tags as cluster_tags
from .settings import AzureSettings

STORAGE_API_VERSION = "2025-01-01"
PRIVATE_ENDPOINT_API_VERSION = "2024-05-01"
PRIVATE_DNS_API_VERSION = "2024-06-01"
ACCOUNT = "Microsoft.Storage/storageAccounts"
FILE_SERVICE = "Microsoft.Storage/storageAccounts/fileServices"
SHARE = "Microsoft.Storage/storageAccounts/fileServices/shares"
PRIVATE_ENDPOINT = "Microsoft.Network/privateEndpoints"
DNS_ZONE_GROUP = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
PRIVATE_DNS_ZONE = "Microsoft.Network/privateDnsZones"
DNS_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
# Every volume is a directory of this one share (mount-string: device=:/ACCOUNT/SHARE/NAME).
SHARE_NAME = "volumes"
# Premium file shares are provisioned: 100 GiB is the smallest; grow it in the portal.
SHARE_QUOTA_GIB = 100
SOFT_DELETE_DAYS = 14
# Storage account names are global, 3-24 lowercase letters and digits: a fixed prefix and a
# hash of the resource group and cluster keep them unique and within the limit (8 + 13).
ACCOUNT_PREFIX = "swarmvol"
# The private DNS zone is privatelink.file.<the cloud's storage suffix> (core.windows.net).
ZONE_PREFIX = "privatelink.file."

ACCEPTED_FINDINGS = (
    "CKV_AZURE_3: NFS 4.1 shares require secure transfer (HTTPS only) to be off - the setting "
    "covers REST and SMB, not NFS; the account has no public network access and is reached "
    "only through its private endpoint inside the virtual network",
    "CKV_AZURE_43: the name is an ARM expression checkov cannot evaluate: 'swarmvol' and "
    "uniqueString's 13 lowercase letters and digits, 21 characters, within the naming rule",
    "CKV_AZURE_206: premium file storage (the only kind with NFS shares) offers LRS and ZRS "
    "only, no geo-replication; protect data against region loss with Azure Backup or copies",
)


def _tags(settings: AzureSettings) -> dict[str, str]:
    """The cluster's tags as ARM literals ('[' starts an expression; '[[' keeps it literal)."""
    return {
        ("[" + k if k.startswith("[") else k): ("[" + v if v.startswith("[") else v)
        for k, v in cluster_tags(settings).items()
    }


def account_name_expression(cluster: str) -> str:
    """The ARM expression of the storage account's name (unique per group and cluster)."""
    return f"concat('{ACCOUNT_PREFIX}', uniqueString(resourceGroup().id, '{cluster}'))"


def volumes_endpoint_name(cluster: str) -> str:
    """The private endpoint through which the nodes reach the share."""
    return f"{cluster}-volumes-pe"


def storage_arm_resources(settings: AzureSettings) -> list[dict[str, Any]]:
    """The ARM resources of the shared storage; none when the spec does not ask for it."""
    if not settings.spec.shared_storage:
        return []
    names = settings.names
    account = account_name_expression(names.cluster)
    account_id = f"[resourceId('{ACCOUNT}', {account})]"
    subnet_id = (
        "[resourceId('Microsoft.Network/virtualNetworks/subnets', "
        f"'{names.vnet}', '{names.subnet}')]"
    )
    vnet_id = f"[resourceId('Microsoft.Network/virtualNetworks', '{names.vnet}')]"
    zone = f"concat('{ZONE_PREFIX}', environment().suffixes.storage)"
    endpoint = volumes_endpoint_name(names.cluster)
    common = {"location": "[parameters('location')]", "tags": _tags(settings)}
    return [
        {
            "type": ACCOUNT,
            "apiVersion": STORAGE_API_VERSION,
            "name": f"[{account}]",
            **common,
            "kind": "FileStorage",
            "sku": {"name": "Premium_LRS"},
            "metadata": {"checkov": list(ACCEPTED_FINDINGS)},
            "properties": {
                "publicNetworkAccess": "Disabled",
                "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
                "supportsHttpsTrafficOnly": False,
                "minimumTlsVersion": "TLS1_2",
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,
                "largeFileSharesState": "Enabled",
                "encryption": {
                    "keySource": "Microsoft.Storage",
                    "requireInfrastructureEncryption": True,
                    "services": {"file": {"enabled": True, "keyType": "Account"}},
                },
            },
        },
        {
            "type": FILE_SERVICE,
            "apiVersion": STORAGE_API_VERSION,
            "name": f"[concat({account}, '/default')]",
            "dependsOn": [account_id],
            "properties": {
                # A deleted share can be restored for this many days.
                "shareDeleteRetentionPolicy": {"enabled": True, "days": SOFT_DELETE_DAYS}
            },
        },
        {
            "type": SHARE,
            "apiVersion": STORAGE_API_VERSION,
            "name": f"[concat({account}, '/default/{SHARE_NAME}')]",
            "dependsOn": [f"[resourceId('{FILE_SERVICE}', {account}, 'default')]"],
            "properties": {
                "enabledProtocols": "NFS",
                # Containers run as root and chown their data directories.
                "rootSquash": "NoRootSquash",
                "shareQuota": SHARE_QUOTA_GIB,
            },
        },
        {
            "type": PRIVATE_DNS_ZONE,
            "apiVersion": PRIVATE_DNS_API_VERSION,
            "name": f"[{zone}]",
            "location": "global",
            "tags": _tags(settings),
        },
        {
            "type": DNS_LINK,
            "apiVersion": PRIVATE_DNS_API_VERSION,
            "name": f"[concat({zone}, '/{names.vnet}')]",
            "location": "global",
            "tags": _tags(settings),
            "dependsOn": [f"[resourceId('{PRIVATE_DNS_ZONE}', {zone})]", vnet_id],
            "properties": {"registrationEnabled": False, "virtualNetwork": {"id": vnet_id}},
        },
        {
            "type": PRIVATE_ENDPOINT,
            "apiVersion": PRIVATE_ENDPOINT_API_VERSION,
            "name": endpoint,
            **common,
            "dependsOn": [account_id, vnet_id],
            "properties": {
                "subnet": {"id": subnet_id},
                "privateLinkServiceConnections": [
                    {
                        "name": "file",
                        "properties": {"privateLinkServiceId": account_id, "groupIds": ["file"]},
                    }
                ],
            },
        },
        {
            "type": DNS_ZONE_GROUP,
            "apiVersion": PRIVATE_ENDPOINT_API_VERSION,
            "name": f"{endpoint}/default",
            "dependsOn": [
                f"[resourceId('{PRIVATE_ENDPOINT}', '{endpoint}')]",
                f"[resourceId('{PRIVATE_DNS_ZONE}', {zone})]",
            ],
            "properties": {
                "privateDnsZoneConfigs": [
                    {
                        "name": "file",
                        "properties": {
                            "privateDnsZoneId": f"[resourceId('{PRIVATE_DNS_ZONE}', {zone})]"
                        },
                    }
                ]
            },
        },
    ]


def storage_arm_outputs(settings: AzureSettings) -> dict[str, Any]:
    """Outputs `swarmstack volume mount-string` and people need: the NFS server and path."""
    if not settings.spec.shared_storage:
        return {}
    account = account_name_expression(settings.names.cluster)
    return {
        "volumesStorageAccount": {"type": "string", "value": f"[{account}]"},
        "volumesNfsServer": {
            "type": "string",
            "value": f"[concat({account}, '.file.', environment().suffixes.storage)]",
        },
        "volumesNfsPath": {
            "type": "string",
            "value": f"[concat('/', {account}, '/{SHARE_NAME}')]",
        },
    }
