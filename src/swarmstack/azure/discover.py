"""Find the cluster's nodes: private IPs, zones, and how to reach each one over SSH.

Managers are reached through the load balancer's inbound NAT rule (public IP, one port per
manager); workers have no public address and are reached through a manager as a jump host.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ..spec import Role
from ..templates.azure.settings import Names
from .clients import AzureClients, as_dict
from .failures import azure_errors


@dataclass(frozen=True)
class Node:
    role: Role
    name: str  # host name (computer name)
    instance_id: str
    zone: str | None
    private_ip: str
    ssh_host: str | None  # public address for SSH; None = through a manager
    ssh_port: int | None
    scale_set: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Discovery:
    public_ip: str | None
    admin_username: str
    nodes: tuple[Node, ...]

    @property
    def managers(self) -> list[Node]:
        return [node for node in self.nodes if node.role == "manager"]

    @property
    def workers(self) -> list[Node]:
        return [node for node in self.nodes if node.role == "worker"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "public_ip": self.public_ip,
            "admin_username": self.admin_username,
            "nodes": [node.as_dict() for node in self.nodes],
        }


def discover(clients: AzureClients, group: str, names: Names, admin_username: str) -> Discovery:
    with azure_errors(f"public IP {names.public_ip}"):
        public = as_dict(clients.network.public_ip_addresses.get(group, names.public_ip))
    public_ip = public.get("properties", {}).get("ipAddress")
    nodes: list[Node] = []
    roles: tuple[tuple[Role, str], ...] = (("manager", names.managers), ("worker", names.workers))
    for role, scale_set in roles:
        nodes += _nodes(clients, group, names, scale_set, role, public_ip)
    return Discovery(public_ip, admin_username, tuple(nodes))


def _nodes(
    clients: AzureClients,
    group: str,
    names: Names,
    scale_set: str,
    role: Role,
    public_ip: str | None,
) -> list[Node]:
    with azure_errors(f"{role}s ({scale_set})"):
        vms = {
            str(vm["instanceId"]): vm
            for vm in map(
                as_dict, clients.compute.virtual_machine_scale_set_vms.list(group, scale_set)
            )
        }
        nics = list(
            map(
                as_dict,
                clients.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(
                    group, scale_set
                ),
            )
        )
    entries = []
    for nic in nics:
        properties = nic.get("properties", {})
        instance_id = properties.get("virtualMachine", {}).get("id", "").rsplit("/", 1)[-1]
        ip_config = properties.get("ipConfigurations", [{}])[0]
        entries.append((instance_id, ip_config))
    ports: dict[str, int | None] = {}
    if role == "manager":
        with ThreadPoolExecutor(max_workers=max(1, len(entries))) as pool:
            found = pool.map(lambda e: _ssh_port(clients, group, names, e[1]["id"]), entries)
            ports = dict(zip([e[0] for e in entries], found, strict=True))
    result = []
    for instance_id, ip_config in sorted(entries, key=lambda e: int(e[0] or 0)):
        vm = vms.get(instance_id, {})
        zones = vm.get("zones") or []
        port = ports.get(instance_id)
        result.append(
            Node(
                role=role,
                name=vm.get("properties", {}).get("osProfile", {}).get("computerName")
                or f"{scale_set}_{instance_id}",
                instance_id=instance_id,
                zone=zones[0] if zones else None,
                private_ip=ip_config.get("properties", {}).get("privateIPAddress", ""),
                ssh_host=public_ip if port is not None else None,
                ssh_port=port,
                scale_set=scale_set,
            )
        )
    return result


def _ssh_port(clients: AzureClients, group: str, names: Names, ip_config_id: str) -> int | None:
    with azure_errors(f"SSH port mapping of {ip_config_id.rsplit('/', 1)[-1]}"):
        poller = clients.network.load_balancers.begin_list_inbound_nat_rule_port_mappings(
            group,
            names.load_balancer,
            names.managers_pool,
            {"ipConfiguration": {"id": ip_config_id}},
        )
        mappings = as_dict(poller.result()).get("inboundNatRulePortMappings", [])
    for mapping in mappings:
        if mapping.get("inboundNatRuleName") == names.ssh_nat_rule:
            return int(mapping["frontendPort"])
    return None
