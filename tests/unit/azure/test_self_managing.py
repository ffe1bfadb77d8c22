"""The ARM template's self-managing part: identities, the vault, the claim storage, the roles.

Role assignments are read back from the rendered template as Azure would: which scale set's
identity (principalId), which built-in role, on which resource (scope).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from typing import Any

import pytest

from swarmstack.provisioners.nodeagent.azure import AZURE_TOKEN_SECRETS
from swarmstack.templates.azure import arm_template
from swarmstack.templates.azure.selfmanaging import ROLES

from .cases import cases

ROLE_NAMES = {role_id: name for name, role_id in ROLES.items()}
# What each built-in role allows on a Key Vault secret (Azure's role definitions, reduced).
SECRET_READ = {"Key Vault Secrets User", "Key Vault Secrets Officer"}


def template(name: str = "default") -> dict[str, Any]:
    return arm_template(cases()[name])


def assignments(tpl: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(scale set, role name, scope expression) of every role assignment."""
    found = []
    for resource in tpl["resources"]:
        if resource["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        properties = resource["properties"]
        principal = re.search(r"virtualMachineScaleSets', '([^']+)'", properties["principalId"])
        role = re.search(r"roleDefinitions', '([0-9a-f-]+)'", properties["roleDefinitionId"])
        assert principal, resource
        assert role, resource
        found.append((principal[1], ROLE_NAMES[role[1]], resource["scope"]))
    return found


def secret_of(scope: str) -> str | None:
    match = re.search(r"vaults/\{0\}/secrets/\{1\}', variables\('vaultName'\), '([^']+)'", scope)
    return match[1] if match else None


@pytest.mark.parametrize("name", sorted(cases()))
def test_workers_identity_cannot_read_the_manager_token(name: str) -> None:
    tpl = template(name)
    workers = f"{cases()[name].spec.name}-workers"
    readable = {
        secret_of(scope)
        for who, role, scope in assignments(tpl)
        if who == workers and role in SECRET_READ
    }
    assert readable == {AZURE_TOKEN_SECRETS["worker"]}
    # Nothing at the vault's scope (that would reach every secret) and no broad role at all.
    vault_wide = [
        (who, role)
        for who, role, scope in assignments(tpl)
        if "vaults" in scope and not secret_of(scope)
    ]
    assert vault_wide == []
    assert {role for who, role, _ in assignments(tpl) if who == workers} <= {
        "Key Vault Secrets User",
        "Storage Blob Data Reader",
        "Storage Blob Data Contributor",
    }


def test_managers_read_and_write_both_tokens_and_change_only_their_own_network() -> None:
    found = assignments(template())
    officer = {secret_of(s) for who, role, s in found if role == "Key Vault Secrets Officer"}
    assert officer == set(AZURE_TOKEN_SECRETS.values())
    assert {who for who, role, _ in found if role == "Key Vault Secrets Officer"} == {
        "swarm-managers"
    }
    network = sorted(scope for _, role, scope in found if role == "Network Contributor")
    assert network == [
        "[format('Microsoft.Network/loadBalancers/{0}', 'swarm-lb')]",
        "[format('Microsoft.Network/networkSecurityGroups/{0}', 'swarm-nsg')]",
        "[format('Microsoft.Network/publicIPAddresses/{0}', 'swarm-ip')]",
    ]
    claim = [
        (who, role) for who, role, scope in found if "containers" in scope and "'swarm')" in scope
    ]
    assert sorted(claim) == [
        ("swarm-managers", "Storage Blob Data Contributor"),
        ("swarm-workers", "Storage Blob Data Reader"),
    ]


def test_vault_uses_rbac_soft_delete_purge_protection_and_subnet_only_access() -> None:
    [vault] = [r for r in template()["resources"] if r["type"] == "Microsoft.KeyVault/vaults"]
    properties = vault["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["enablePurgeProtection"] is True
    assert properties["networkAcls"]["defaultAction"] == "Deny"
    assert properties["networkAcls"]["ipRules"] == []
    assert "accessPolicies" not in properties
    [storage] = [r for r in template()["resources"] if r["type"].endswith("storageAccounts")]
    assert storage["properties"]["allowSharedKeyAccess"] is False
    assert storage["properties"]["networkAcls"]["defaultAction"] == "Deny"


def test_scale_sets_get_a_terminate_notification_and_the_agents_tags() -> None:
    for resource in template()["resources"]:
        if not resource["type"].endswith("virtualMachineScaleSets"):
            continue
        assert resource["identity"] == {"type": "SystemAssigned"}
        profile = resource["properties"]["virtualMachineProfile"]["scheduledEventsProfile"]
        notification = profile["terminateNotificationProfile"]
        assert notification["enable"] is True
        minutes = int(notification["notBeforeTimeout"][2:-1])
        assert 5 <= minutes <= 15
        assert resource["tags"]["swarmstack-vault"] == "[variables('vaultName')]"
        assert resource["tags"]["swarmstack-storage"] == "[variables('storageName')]"


def custom_data_text(resource: dict[str, Any]) -> str:
    raw = base64.b64decode(
        resource["properties"]["virtualMachineProfile"]["osProfile"]["customData"]
    )
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()


def test_custom_data_ships_the_agent_for_azure_and_no_secret() -> None:
    tpl = template("full")
    text = json.dumps(tpl)
    assert "SWMTKN" not in text
    for resource in tpl["resources"]:
        if resource["type"].endswith("virtualMachineScaleSets"):
            data = custom_data_text(resource)
            assert "swarmstack/provisioners/nodeagent/azure.py" in data
            assert "-m swarmstack.provisioners.nodeagent.azure" in data
            assert "SWMTKN" not in data
            assert "169.254.169.254" in data  # the default IMDS address, on the node only
