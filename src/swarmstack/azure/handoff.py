"""The hand-off from `azure deploy` to the SSH bootstrap (swarmstack.provisioners).

Only the managers have SSH routes from outside (the load balancer's NAT ports), so the first
manager is the bastion and every node, managers included, is reached at its private address
through it; the swarm advertises the private addresses.
"""

from __future__ import annotations

from typing import Any

from ..handoff import CloudSsh, HandoffProgress, bootstrap_hosts
from ..provisioners.inventory import Bastion, Host
from ..spec import ClusterSpec
from .discover import Discovery


def bootstrap_discovered_nodes(
    spec: ClusterSpec, discovery: Discovery, ssh: CloudSsh, progress: HandoffProgress
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
    return bootstrap_hosts(spec, hosts, settings, progress)
