"""The node agent's Azure shapes: Azure's JSON -> the agent's facts (decisions' dataclasses),
and the bodies the agent sends (a load balancer with or without a service port, a security
rule). Pure functions, no I/O: the adapter (azure.py) does the calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .decisions import Instance, Notice

# The event types after which the instance is gone (Preempt: spot instances).
LEAVING_EVENTS = ("Terminate", "Preempt")
SERVICE_PREFIX = "svc-"  # load-balancer rules, probes and security rules of service ports
SERVICE_RULE_PRIORITIES = range(1000, 4000)  # below the template's deny rule at 4000


def leaving_events(events: list[dict[str, Any]], instance: str) -> list[dict[str, Any]]:
    """The Terminate or Preempt events for this instance: events name every VM they touch,
    scale-set instances as NAME_N, which some samples show with a leading underscore."""
    names = {instance, f"_{instance}"}
    return [
        event
        for event in events
        if event.get("EventType") in LEAVING_EVENTS
        and names & set(event.get("Resources") or [])
        and event.get("EventStatus", "Scheduled") == "Scheduled"
    ]


@dataclass(frozen=True)
class LeavingNotice(Notice):
    """A leaving notice posted by a node on its Terminate or Preempt event (decisions'
    leaving_step takes it as it takes an AWS termination notice)."""

    @property
    def is_termination(self) -> bool:
        return bool(self.instance_id and self.group and self.token)


# --- pure helpers: Azure's shapes -> the agent's facts ------------------------------------------

VM_STATES = {"Creating": "pending", "Deleting": "shutting-down", "Failed": "running"}


def instances_of(
    role: str, vms: list[dict[str, Any]], nics: list[dict[str, Any]]
) -> list[Instance]:
    """Scale-set VMs with their private address (from the scale set's NICs)."""
    address_of: dict[str, str] = {}
    for nic in nics:
        properties = nic.get("properties") or {}
        vm = ((properties.get("virtualMachine") or {}).get("id") or "").lower()
        for config in properties.get("ipConfigurations") or []:
            address = (config.get("properties") or {}).get("privateIPAddress")
            if vm and address and (config.get("properties") or {}).get("primary", True):
                address_of.setdefault(vm, str(address))
    found = []
    for vm in vms:
        state = (vm.get("properties") or {}).get("provisioningState", "Succeeded")
        zones = vm.get("zones") or []
        found.append(
            Instance(
                id=str(vm["name"]),
                address=address_of.get(str(vm.get("id", "")).lower(), ""),
                zone=str(zones[0]) if zones else "regional",
                role=role,
                state=VM_STATES.get(state, "running"),
            )
        )
    return found


def parse_leaving(name: str, text: str) -> Notice | None:
    """A leaving notice blob; None once the leader has completed it (the node approves next)."""
    try:
        data = json.loads(text)
    except ValueError:
        return LeavingNotice(name)
    if not isinstance(data, dict):
        return LeavingNotice(name)
    if data.get("done"):
        return None
    return LeavingNotice(
        receipt=name,
        instance_id=str(data.get("instance", "")),
        group=str(data.get("group", "")),
        hook="scheduled-events",
        token=str(data.get("event", "")),
        transition="azure:scheduled-event",
    )


def service_rules(balancer: dict[str, Any]) -> dict[int, tuple[str, str]]:
    properties = balancer.get("properties") or {}
    found = {}
    for rule in properties.get("loadBalancingRules") or []:
        name = str(rule.get("name", ""))
        if name.startswith(SERVICE_PREFIX) and name[len(SERVICE_PREFIX) :].isdigit():
            found[int(name[len(SERVICE_PREFIX) :])] = (name, name)
    return found


def tcp_probe(name: str, port: int) -> dict[str, Any]:
    """A load balancer's probe of a TCP port: the template's for spec ports, the agent's for
    services' ports (templates/azure/network.py uses it too)."""
    return {
        "name": name,
        "properties": {
            "protocol": "Tcp",
            "port": port,
            "intervalInSeconds": 5,
            "probeThreshold": 2,
        },
    }


def tcp_rule(
    name: str, port: int, *, frontend: dict[str, str], pool: dict[str, str], probe: dict[str, str]
) -> dict[str, Any]:
    """A load-balancing rule of a TCP port (same port on both sides); frontend, pool and probe
    are {"id": ...} references."""
    return {
        "name": name,
        "properties": {
            "frontendIPConfiguration": frontend,
            "backendAddressPool": pool,
            "probe": probe,
            "protocol": "Tcp",
            "frontendPort": port,
            "backendPort": port,
            "enableFloatingIP": False,
            "enableTcpReset": True,
            "idleTimeoutInMinutes": 4,
            "loadDistribution": "Default",
            # Outbound traffic uses the load balancer's explicit outbound rule instead.
            "disableOutboundSnat": True,
        },
    }


def _child_id(balancer: dict[str, Any], kind: str, name: str) -> dict[str, str]:
    return {"id": f"{balancer['id']}/{kind}/{name}"}


def with_port(balancer: dict[str, Any], port: int, pool: str) -> dict[str, Any]:
    """The load balancer with a TCP rule and probe for ``port`` balanced over ``pool``."""
    result: dict[str, Any] = json.loads(json.dumps(balancer))  # a deep copy
    properties = result.setdefault("properties", {})
    name = f"{SERVICE_PREFIX}{port}"
    frontend = properties["frontendIPConfigurations"][0]["name"]
    properties["probes"] = [p for p in properties.get("probes") or [] if p.get("name") != name]
    properties["probes"].append(tcp_probe(name, port))
    rules = [r for r in properties.get("loadBalancingRules") or [] if r.get("name") != name]
    rules.append(
        tcp_rule(
            name,
            port,
            frontend=_child_id(result, "frontendIPConfigurations", frontend),
            pool=_child_id(result, "backendAddressPools", pool),
            probe=_child_id(result, "probes", name),
        )
    )
    properties["loadBalancingRules"] = rules
    return result


def without_port(balancer: dict[str, Any], port: int) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(balancer))  # a deep copy
    properties = result.setdefault("properties", {})
    name = f"{SERVICE_PREFIX}{port}"
    for key in ("loadBalancingRules", "probes"):
        properties[key] = [item for item in properties.get(key) or [] if item.get("name") != name]
    return result


def service_security_rule(nsg: dict[str, Any], port: int) -> dict[str, Any] | None:
    """The security rule letting the world reach ``port``, at the first free priority; None
    when the security group has it already."""
    rules = (nsg.get("properties") or {}).get("securityRules") or []
    if any(rule.get("name") == f"{SERVICE_PREFIX}{port}" for rule in rules):
        return None
    taken = {int((rule.get("properties") or {}).get("priority", 0)) for rule in rules}
    priority = next(p for p in SERVICE_RULE_PRIORITIES if p not in taken)
    return {
        "properties": {
            "access": "Allow",
            "direction": "Inbound",
            "priority": priority,
            "protocol": "Tcp",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": str(port),
            "description": f"published service port {port} (swarmstack node agent)",
        }
    }
