"""The hand-off from `aws launch-stack` to the SSH bootstrap (swarmstack.provisioners).

SSH goes to each node's public address when it has one (new VPC), else its private one
(existing VPC: run from inside it); the swarm always advertises the private address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..handoff import CloudSsh, HandoffProgress, bootstrap_hosts
from ..provisioners.inventory import Host
from ..spec import ClusterSpec
from .discovery import Node

# The login user of the default image (Debian's cloud images); --ssh-user for others.
DEFAULT_SSH_USER = "admin"


def bootstrap_discovered_nodes(
    spec: ClusterSpec, nodes: Sequence[Node], ssh: CloudSsh, progress: HandoffProgress
) -> dict[str, Any]:
    """Hand the stack's running nodes to the SSH bootstrap that forms the swarm."""
    hosts = [
        Host(
            address=node.public_ip or node.private_ip,
            role=node.role,
            zone=node.zone,
            private_address=node.private_ip,
            hostname=node.instance_id,
        )
        for node in nodes
        if node.state == "running" and node.private_ip
    ]
    return bootstrap_hosts(spec, hosts, ssh.settings(spec, DEFAULT_SSH_USER), progress)
