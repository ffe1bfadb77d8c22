"""Network bodies: security group, virtual network, public IP and load balancer.

Security model: the swarm's own ports (management, gossip and the VXLAN data path port, as
swarmstack.contract defines them; ESP) and SSH between nodes are allowed only from the
virtual network; everything else from inside the network is denied
(overriding Azure's allow-all AllowVnetInBound); SSH from outside only from ssh_cidr, and only
through the load balancer's NAT to the managers; published ports are open to the world and
balanced over the workers (over the managers when there are no workers).
"""

from __future__ import annotations

from typing import Any

from ...contract import CLUSTER_TAG, GOSSIP_PORT, SWARM_PORT
from ...provisioners.nodeagent.azure_shapes import tcp_probe, tcp_rule
from .refs import Refs
from .settings import AZURE_ZONES, SSH_NAT_FIRST_PORT, AzureSettings

NETWORK_API_VERSION = "2026-03-01"
NSG = "Microsoft.Network/networkSecurityGroups"
VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
PUBLIC_IP = "Microsoft.Network/publicIPAddresses"
LB = "Microsoft.Network/loadBalancers"
LB_FRONTEND = "Microsoft.Network/loadBalancers/frontendIPConfigurations"
LB_POOL = "Microsoft.Network/loadBalancers/backendAddressPools"
LB_PROBE = "Microsoft.Network/loadBalancers/probes"
# Room for replacements: scale-set instance ids grow when instances are replaced.
SSH_NAT_PORTS = 100


def tags(settings: AzureSettings) -> dict[str, str]:
    """Tags on every resource; the cluster tag marks what destroy may delete."""
    return {**settings.spec.tags, CLUSTER_TAG: settings.spec.name}


def _rule(
    name: str,
    priority: int,
    protocol: str,
    ports: list[str],
    source: Any,
    access: str = "Allow",
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "access": access,
        "direction": "Inbound",
        "priority": priority,
        "protocol": protocol,
        "sourceAddressPrefix": source,
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
    }
    if len(ports) == 1:
        properties["destinationPortRange"] = ports[0]
    else:
        properties["destinationPortRanges"] = ports
    return {"name": name, "properties": properties}


def security_group(settings: AzureSettings, refs: Refs) -> dict[str, Any]:
    spec = settings.spec
    vnet = spec.vpc_cidr
    gossip, data_path = str(GOSSIP_PORT), str(spec.data_path_port)
    rules = [
        _rule("swarm-tcp-from-vnet", 100, "Tcp", [str(SWARM_PORT), gossip], vnet),
        _rule("swarm-udp-from-vnet", 110, "Udp", [gossip, data_path], vnet),
        _rule("swarm-esp-from-vnet", 120, "Esp", ["*"], vnet),
        _rule("ssh-from-vnet", 130, "Tcp", ["22"], vnet),
    ]
    if spec.ssh_cidr is not None:
        rules.append(_rule("ssh-from-admins", 200, "Tcp", ["22"], refs.param("sshSourceCidr")))
    if spec.published_ports:
        ports = [str(port) for port in spec.published_ports]
        rules.append(_rule("published-ports", 300, "Tcp", ports, "*"))
    rules.append(_rule("deny-other-from-vnet", 4000, "*", ["*"], "VirtualNetwork", "Deny"))
    return {
        "location": refs.param("location"),
        "tags": tags(settings),
        "properties": {"securityRules": rules},
    }


def virtual_network(settings: AzureSettings, refs: Refs) -> dict[str, Any]:
    names = settings.names
    cidr = settings.spec.vpc_cidr
    return {
        "location": refs.param("location"),
        "tags": tags(settings),
        "properties": {
            "addressSpace": {"addressPrefixes": [cidr]},
            "subnets": [
                {
                    "name": names.subnet,
                    "properties": {
                        "addressPrefix": cidr,
                        "networkSecurityGroup": {"id": refs.resource_id(NSG, names.nsg)},
                        # Outbound goes through the load balancer's outbound rule only.
                        "defaultOutboundAccess": False,
                    },
                }
            ],
        },
    }


def public_ip(settings: AzureSettings, refs: Refs) -> dict[str, Any]:
    return {
        "location": refs.param("location"),
        "tags": tags(settings),
        "sku": {"name": "Standard", "tier": "Regional"},
        # Zone-redundant whatever zones the nodes use: a subset is not a valid choice here.
        "zones": list(AZURE_ZONES),
        "properties": {
            "publicIPAllocationMethod": "Static",
            "publicIPAddressVersion": "IPv4",
            "idleTimeoutInMinutes": 4,
        },
    }


def load_balancer(settings: AzureSettings, refs: Refs) -> dict[str, Any]:
    names = settings.names
    lb = names.load_balancer
    frontend = {"id": refs.resource_id(LB_FRONTEND, lb, names.frontend)}
    apps_pool = {"id": refs.resource_id(LB_POOL, lb, names.apps_pool)}
    probes = []
    rules = []
    for port in settings.spec.published_ports:
        name = f"tcp-{port}"
        probes.append(tcp_probe(name, port))
        probe = {"id": refs.resource_id(LB_PROBE, lb, name)}
        rules.append(tcp_rule(name, port, frontend=frontend, pool=apps_pool, probe=probe))
    return {
        "location": refs.param("location"),
        "tags": tags(settings),
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "frontendIPConfigurations": [
                {
                    "name": names.frontend,
                    "properties": {
                        "publicIPAddress": {"id": refs.resource_id(PUBLIC_IP, names.public_ip)}
                    },
                }
            ],
            "backendAddressPools": [
                {"name": names.apps_pool},
                {"name": names.managers_pool},
                {"name": names.outbound_pool},
            ],
            "probes": probes,
            "loadBalancingRules": rules,
            "inboundNatRules": [
                {
                    "name": names.ssh_nat_rule,
                    "properties": {
                        "frontendIPConfiguration": frontend,
                        "backendAddressPool": {
                            "id": refs.resource_id(LB_POOL, lb, names.managers_pool)
                        },
                        "protocol": "Tcp",
                        "frontendPortRangeStart": SSH_NAT_FIRST_PORT,
                        "frontendPortRangeEnd": SSH_NAT_FIRST_PORT + SSH_NAT_PORTS - 1,
                        "backendPort": 22,
                        "enableFloatingIP": False,
                        "enableTcpReset": True,
                        "idleTimeoutInMinutes": 30,
                    },
                }
            ],
            "outboundRules": [
                {
                    "name": names.outbound_rule,
                    "properties": {
                        "frontendIPConfigurations": [frontend],
                        "backendAddressPool": {
                            "id": refs.resource_id(LB_POOL, lb, names.outbound_pool)
                        },
                        "protocol": "All",
                        "enableTcpReset": True,
                        "idleTimeoutInMinutes": 4,
                    },
                }
            ],
        },
    }
