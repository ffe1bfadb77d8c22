"""The hand-off from `azure deploy` to the SSH bootstrap (swarmstack.provisioners).

Only the managers have SSH routes from outside (the load balancer's NAT ports), so the first
manager is the bastion and every node, managers included, is reached at its private address
through it; the swarm advertises the private addresses. Before any connection, the host keys
each instance wrote on its serial console are pinned in the cluster's known_hosts
(node_records.py), so no node is trusted on first use.
"""

from __future__ import annotations

from typing import Any

from ..handoff import (
    CloudSsh,
    HandoffProgress,
    PublishedKeys,
    bootstrap_hosts,
    pin_published_host_keys,
)
from ..known_hosts import known_hosts_name
from ..provisioners.inventory import Bastion, Host
from ..spec import ClusterSpec
from .discover import Discovery, Node
from .node_records import NodeRecord


def published_keys(
    discovery: Discovery, records: dict[str, NodeRecord], port: int = 22
) -> list[PublishedKeys]:
    """Each node's record under the names SSH reaches it by: its private address (through
    the bastion) and, for a manager, the load balancer's NAT port."""
    result = []
    for node in discovery.nodes:
        names = [known_hosts_name(node.private_ip, port)]
        if node.ssh_host and node.ssh_port:
            names.append(known_hosts_name(node.ssh_host, node.ssh_port))
        record = records.get(instance_name(node))
        keys = record.host_keys if record is not None else None
        result.append(PublishedKeys(node.name, tuple(names), keys))
    return result


def instance_name(node: Node) -> str:
    """The instance's name in its metadata (and records): "<scale set>_<instance id>"."""
    return f"{node.scale_set}_{node.instance_id}"


def bootstrap_discovered_nodes(
    spec: ClusterSpec,
    discovery: Discovery,
    ssh: CloudSsh,
    progress: HandoffProgress,
    records: dict[str, NodeRecord],
) -> dict[str, Any]:
    """Form or converge the swarm on the discovered nodes; returns the bootstrap summary."""
    entry = next((n for n in discovery.nodes if n.ssh_host and n.ssh_port), None)
    if entry is None or entry.ssh_host is None or entry.ssh_port is None:
        progress.warn("no manager has an SSH route (load balancer NAT port); bootstrap skipped")
        return {"status": "skipped", "reason": "no SSH route to a manager"}
    bastion = Bastion(address=entry.ssh_host, port=entry.ssh_port)
    hosts = [
        Host(address=n.private_ip, role=n.role, zone=n.zone, hostname=n.name)
        for n in discovery.nodes
    ]
    settings = ssh.settings(spec, discovery.admin_username, bastion)
    pin_published_host_keys(
        settings.known_hosts, published_keys(discovery, records, settings.port), progress
    )
    return bootstrap_hosts(spec, hosts, settings, progress)
