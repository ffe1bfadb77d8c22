"""The ARM deployment template: the same bodies as the SDK deploy, as expressions.

Deploy it by hand (the nodes then form the swarm themselves) with:
    az group create -n GROUP -l LOCATION
    az deployment group create -g GROUP --template-file swarm.json \
        --parameters sshPublicKey="$(cat ~/.ssh/id_ed25519.pub)"
"""

from __future__ import annotations

import json
from typing import Any

from .network import LB, PUBLIC_IP, SSH_NAT_PORTS, tags
from .parameters import parameter_definitions
from .refs import ArmRefs
from .resources import build_resources
from .selfmanaging import add_self_managing, variables
from .settings import SSH_NAT_FIRST_PORT, AzureSettings
from .storage import storage_arm_outputs, storage_arm_resources

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def arm_template(settings: AzureSettings) -> dict[str, Any]:
    definitions = parameter_definitions(settings)
    refs = ArmRefs(set(definitions))
    resources = build_resources(settings, refs)
    by_key = {resource.key: resource for resource in resources}
    arm_resources = []
    for resource in resources:
        entry: dict[str, Any] = {
            "type": resource.type,
            "apiVersion": resource.api_version,
            "name": resource.name,
            **resource.body,
        }
        if "tags" in entry:
            entry["tags"] = {_literal(k): _literal(v) for k, v in entry["tags"].items()}
        if resource.depends_on:
            entry["dependsOn"] = [
                refs.resource_id(by_key[key].type, by_key[key].name) for key in resource.depends_on
            ]
        if resource.accepted_findings:
            entry["metadata"] = {"checkov": list(resource.accepted_findings)}
        arm_resources.append(entry)
    arm_resources += storage_arm_resources(settings)
    # Nodes that form and heal their own swarm: the vault, the storage and the roles they need.
    add_self_managing(
        settings, arm_resources, {_literal(k): _literal(v) for k, v in tags(settings).items()}
    )
    names = settings.names
    ip_ref = f"reference({refs.resource_id(PUBLIC_IP, names.public_ip)[1:-1]})"
    outputs: dict[str, Any] = {
        "publicIpAddress": {"type": "string", "value": f"[{ip_ref}.ipAddress]"},
        "appUrl": {"type": "string", "value": f"[format('http://{{0}}/', {ip_ref}.ipAddress)]"},
        "sshFirstManager": {
            "type": "string",
            "value": (
                f"[format('ssh -p {SSH_NAT_FIRST_PORT} {{0}}@{{1}}', "
                f"parameters('adminUsername'), {ip_ref}.ipAddress)]"
            ),
        },
        "sshManagerPorts": {
            "type": "string",
            "value": f"{SSH_NAT_FIRST_PORT}-{SSH_NAT_FIRST_PORT + SSH_NAT_PORTS - 1}: one port "
            "per manager instance, from the first; workers are reached through a manager",
        },
        "loadBalancerId": {"type": "string", "value": refs.resource_id(LB, names.load_balancer)},
        "keyVaultName": {"type": "string", "value": "[variables('vaultName')]"},
    }
    outputs.update(storage_arm_outputs(settings))
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "description": f"Docker swarm '{settings.spec.name}' built by swarmstack "
            "(managers across zones, workers, Standard load balancer)."
        },
        "parameters": definitions,
        "variables": variables(settings),
        "resources": arm_resources,
        "outputs": outputs,
    }


def _literal(text: str) -> str:
    """ARM evaluates strings starting with '[' as expressions; '[[' keeps one literal '['."""
    return "[" + text if text.startswith("[") else text


def to_json(template: dict[str, Any]) -> str:
    """Deterministic JSON (sorted keys), so golden files and reviews see real changes only."""
    return json.dumps(template, indent=2, sort_keys=True) + "\n"
