"""What the node agent (swarmstack.provisioners.nodeagent) needs from the ARM deployment.

- The scale sets' system-assigned identities, and nothing secret anywhere: the join tokens live
  in a Key Vault created with the cluster (Azure RBAC, soft delete and purge protection, reached
  only from the cluster's subnet); the first manager is chosen by a blob created with
  If-None-Match: * in a storage account of the cluster (no shared keys, subnet only).
- Least privilege, scoped per resource: managers read and write both token secrets, workers
  read only the worker token (role assignments on each secret, not on the vault); managers
  write the swarm's state container, workers only read it; both write leaving notices;
  managers read the scale sets (instance sweep) and change only this cluster's load balancer,
  security group and public IP (published ports that follow services).
- Scheduled Events: a terminate notification on both scale sets, so a leaving instance is
  drained, demoted and removed before Azure deletes it.

`swarmstack azure deploy` deploys this same template (src/swarmstack/azure/deploy.py), so a
by-hand deployment and the CLI make the same self-managing cluster.
"""

from __future__ import annotations

from typing import Any

from ...provisioners.nodeagent.azure import (
    AZURE_LEAVING_CONTAINER,
    AZURE_STATE_CONTAINER,
    AZURE_STORAGE_TAG,
    AZURE_TOKEN_SECRETS,
    AZURE_VAULT_TAG,
    PLACEHOLDER,
)
from .compute import COMPUTE_API_VERSION, VMSS
from .network import LB, NSG, PUBLIC_IP, VNET
from .settings import AzureSettings

VAULT = "Microsoft.KeyVault/vaults"
SECRET = "Microsoft.KeyVault/vaults/secrets"  # noqa: S105 - a resource type
STORAGE = "Microsoft.Storage/storageAccounts"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
KEYVAULT_API_VERSION = "2024-11-01"
STORAGE_API_VERSION = "2024-01-01"
AUTHORIZATION_API_VERSION = "2022-04-01"
# A Terminate event waits this long for the node's approval (Azure allows PT5M..PT15M): a
# manager's drain, demotion and removal take well under a minute; the rest is margin.
TERMINATE_NOT_BEFORE = "PT5M"
# Soft-deleted vaults keep their (global) name reserved this long; 7 days is Azure's minimum.
SOFT_DELETE_DAYS = 7
# Built-in role definitions (the same ids in every Azure cloud).
ROLES = {
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
}
# PLACEHOLDER is the secrets' first value: a role assignment needs its secret to exist; the
# first manager overwrites it with the token, and the leader restores it after a redeployment.
NETWORK_FINDING = (
    "{check}: reachable only from the cluster's subnet (service endpoint, network rules "
    "deny by default, no IP rules) and only with the nodes' own identities; disabling public "
    "network access would need private endpoints and private DNS zones"
)


def variables(settings: AzureSettings) -> dict[str, str]:
    """Globally unique names (Key Vault and storage names are DNS names), stable per resource
    group and cluster so a redeployment updates the same resources."""
    seed = f"uniqueString(resourceGroup().id, '{settings.spec.name}')"
    return {
        "vaultName": f"[concat('swarmkv', {seed})]",
        "storageName": f"[concat('swarmst', {seed})]",
    }


def _name(*parts: str) -> str:
    """A child's name: literal parts and the vault/storage variables, joined with '/'."""
    args = ", '/', ".join(parts)
    return f"[concat({args})]"


def _id(resource_type: str, *names: str) -> str:
    return f"[resourceId('{resource_type}', {', '.join(names)})]"


VAULT_NAME = "variables('vaultName')"
STORAGE_NAME = "variables('storageName')"


def _principal(scale_set: str) -> str:
    return (
        f"reference(resourceId('{VMSS}', '{scale_set}'), '{COMPUTE_API_VERSION}', 'full')"
        ".identity.principalId"
    )


def _quoted(text: str) -> str:
    """Text inside an ARM string literal: a quote is written twice ("the swarm''s state")."""
    return text.replace("'", "''")


def _assignment(
    purpose: str, role: str, scope: str, scale_set: str, depends_on: list[str]
) -> dict[str, Any]:
    """``scope``: an ARM expression (no brackets) giving the resource's relative id."""
    return {
        "type": ROLE_ASSIGNMENT,
        "apiVersion": AUTHORIZATION_API_VERSION,
        "name": f"[guid(resourceGroup().id, '{scale_set}', '{_quoted(purpose)}')]",
        "scope": f"[{scope}]",
        "dependsOn": [_id(VMSS, f"'{scale_set}'"), *depends_on],
        "properties": {
            "description": f"swarmstack node agent: {purpose}",
            "roleDefinitionId": (
                "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
                f"'{ROLES[role]}')]"
            ),
            "principalId": f"[{_principal(scale_set)}]",
            "principalType": "ServicePrincipal",
        },
    }


def _subnet_rule(settings: AzureSettings) -> dict[str, str]:
    names = settings.names
    return {
        "id": f"[resourceId('{VNET}/subnets', '{names.vnet}', '{names.subnet}')]",
    }


def resources(settings: AzureSettings, tags: dict[str, str]) -> list[dict[str, Any]]:
    names = settings.names
    vnet = _id(VNET, f"'{names.vnet}'")
    vault = _id(VAULT, VAULT_NAME)
    storage = _id(STORAGE, STORAGE_NAME)
    result: list[dict[str, Any]] = [
        {
            "type": VAULT,
            "apiVersion": KEYVAULT_API_VERSION,
            "name": f"[{VAULT_NAME}]",
            "location": "[parameters('location')]",
            "tags": tags,
            "dependsOn": [vnet],
            "properties": {
                "tenantId": "[subscription().tenantId]",
                "sku": {"family": "A", "name": "standard"},
                "enableRbacAuthorization": True,
                "enableSoftDelete": True,
                "softDeleteRetentionInDays": SOFT_DELETE_DAYS,
                "enablePurgeProtection": True,
                "publicNetworkAccess": "Enabled",  # only for the subnet rule below
                "networkAcls": {
                    "defaultAction": "Deny",
                    "bypass": "None",
                    "ipRules": [],
                    "virtualNetworkRules": [_subnet_rule(settings)],
                },
            },
            "metadata": {"checkov": [NETWORK_FINDING.format(check="CKV_AZURE_189")]},
        }
    ]
    for role, secret in AZURE_TOKEN_SECRETS.items():
        result.append(
            {
                "type": SECRET,
                "apiVersion": KEYVAULT_API_VERSION,
                "name": _name(VAULT_NAME, f"'{secret}'"),
                "dependsOn": [vault],
                "properties": {
                    "value": PLACEHOLDER,
                    "contentType": f"docker swarm {role} join token",
                    # The leader keeps the secret equal to the swarm's token (rotations too);
                    # an expiry would stop replacement nodes from joining.
                    "attributes": {"enabled": True},
                },
                "metadata": {
                    "checkov": [
                        "CKV_AZURE_41: a swarm join token is rotated with `docker swarm "
                        "join-token --rotate` (the leader copies it here), not by expiry; an "
                        "expired secret would stop replacement nodes from joining"
                    ]
                },
            }
        )
    result.append(
        {
            "type": STORAGE,
            "apiVersion": STORAGE_API_VERSION,
            "name": f"[{STORAGE_NAME}]",
            "location": "[parameters('location')]",
            "tags": tags,
            "dependsOn": [vnet],
            "sku": {"name": "Standard_GZRS"},
            "kind": "StorageV2",
            "properties": {
                "accessTier": "Hot",
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,  # Entra ID (the managed identities) only
                "defaultToOAuthAuthentication": True,
                "minimumTlsVersion": "TLS1_2",
                "supportsHttpsTrafficOnly": True,
                "publicNetworkAccess": "Enabled",  # only for the subnet rule below
                "networkAcls": {
                    "defaultAction": "Deny",
                    # Trusted Azure services still need a role to read anything.
                    "bypass": "AzureServices",
                    "ipRules": [],
                    "virtualNetworkRules": [{**_subnet_rule(settings), "action": "Allow"}],
                },
            },
            "metadata": {
                "checkov": [
                    NETWORK_FINDING.format(check="CKV_AZURE_59"),
                    "CKV_AZURE_43: the name is concat('swarmst', uniqueString(...)): 20 "
                    "lowercase letters and digits, within the naming rules; checkov does not "
                    "evaluate the expression",
                ]
            },
        }
    )
    for container in (AZURE_STATE_CONTAINER, AZURE_LEAVING_CONTAINER):
        result.append(
            {
                "type": CONTAINER,
                "apiVersion": STORAGE_API_VERSION,
                "name": _name(STORAGE_NAME, "'default'", f"'{container}'"),
                "dependsOn": [storage],
                "properties": {"publicAccess": "None"},
            }
        )
    result += _role_assignments(settings)
    return result


def _secret_scope(role: str) -> str:
    # A relative id: type and name segments interleaved (vaults/NAME/secrets/NAME).
    return f"format('{VAULT}/{{0}}/secrets/{{1}}', {VAULT_NAME}, '{AZURE_TOKEN_SECRETS[role]}')"


def _container_scope(container: str) -> str:
    return (
        f"format('{STORAGE}/{{0}}/blobServices/default/containers/{{1}}', "
        f"{STORAGE_NAME}, '{container}')"
    )


def _role_assignments(settings: AzureSettings) -> list[dict[str, Any]]:
    names = settings.names
    managers, workers = names.managers, names.workers

    def secret(role: str) -> list[str]:
        return [_id(SECRET, VAULT_NAME, f"'{AZURE_TOKEN_SECRETS[role]}'")]

    def container(name: str) -> list[str]:
        return [_id(CONTAINER, STORAGE_NAME, "'default'", f"'{name}'")]

    result = [
        _assignment(
            f"read and write the {role} token",
            "Key Vault Secrets Officer",
            _secret_scope(role),
            managers,
            secret(role),
        )
        for role in AZURE_TOKEN_SECRETS
    ]
    result += [
        _assignment(
            "read the worker token",
            "Key Vault Secrets User",
            _secret_scope("worker"),
            workers,
            secret("worker"),
        ),
        _assignment(
            "write the swarm's state (first-manager claim, leases, record)",
            "Storage Blob Data Contributor",
            _container_scope(AZURE_STATE_CONTAINER),
            managers,
            container(AZURE_STATE_CONTAINER),
        ),
        _assignment(
            "read the swarm's state",
            "Storage Blob Data Reader",
            _container_scope(AZURE_STATE_CONTAINER),
            workers,
            container(AZURE_STATE_CONTAINER),
        ),
    ]
    for scale_set in (managers, workers):
        result.append(
            _assignment(
                "post and read leaving notices",
                "Storage Blob Data Contributor",
                _container_scope(AZURE_LEAVING_CONTAINER),
                scale_set,
                container(AZURE_LEAVING_CONTAINER),
            )
        )
    for scale_set in (managers, workers):
        result.append(
            _assignment(
                f"list the instances of {scale_set}",
                "Reader",
                f"format('{VMSS}/{{0}}', '{scale_set}')",
                managers,
                [_id(VMSS, f"'{scale_set}'")],
            )
        )
    # A load balancer PUT re-sends its frontend's public IP reference, which Azure checks as
    # publicIPAddresses/join/action on the address (a linked access check).
    targets = ((LB, names.load_balancer), (NSG, names.nsg), (PUBLIC_IP, names.public_ip))
    for kind, name in targets:
        result.append(
            _assignment(
                f"published ports on {name}",
                "Network Contributor",
                f"format('{kind}/{{0}}', '{name}')",
                managers,
                [_id(kind, f"'{name}'")],
            )
        )
    return result


def patch_scale_set(entry: dict[str, Any], settings: AzureSettings) -> None:
    """Tags the agent reads from instance metadata, and the terminate notification."""
    entry["tags"] = {
        **entry["tags"],
        AZURE_VAULT_TAG: f"[{VAULT_NAME}]",
        AZURE_STORAGE_TAG: f"[{STORAGE_NAME}]",
    }
    profile = entry["properties"]["virtualMachineProfile"]
    profile["scheduledEventsProfile"] = {
        "terminateNotificationProfile": {"enable": True, "notBeforeTimeout": TERMINATE_NOT_BEFORE}
    }


def patch_subnet(entry: dict[str, Any]) -> None:
    """Service endpoints: the vault and storage accept the subnet's traffic by its identity."""
    for subnet in entry["properties"]["subnets"]:
        subnet["properties"]["serviceEndpoints"] = [
            {"service": "Microsoft.KeyVault"},
            {"service": "Microsoft.Storage"},
        ]


def add_self_managing(
    settings: AzureSettings, template_resources: list[dict[str, Any]], tags: dict[str, str]
) -> None:
    """Patch the shared bodies (ARM only) and append the agent's resources."""
    for entry in template_resources:
        if entry["type"] == VMSS:
            patch_scale_set(entry, settings)
            # Role assignments read the identity only after the vault and storage exist.
        elif entry["type"] == VNET:
            patch_subnet(entry)
    template_resources += resources(settings, tags)
