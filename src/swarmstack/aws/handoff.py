"""The hand-off from `aws launch-stack` to the SSH bootstrap (swarmstack.provisioners).

SSH goes to each node's public address when it has one (new VPC), else its private one
(existing VPC: run from inside it); the swarm always advertises the private address. Before
any connection, the host keys cloud-init printed on each instance's console are pinned in
the cluster's known_hosts (console.py), so no node is trusted on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..handoff import (
    HOST_KEYS_TIMEOUT,
    CloudSsh,
    HandoffProgress,
    PublishedKeys,
    bootstrap_hosts,
    pin_published_host_keys,
    wait_for_each,
)
from ..known_hosts import known_hosts_name
from ..provisioners.inventory import Host
from ..spec import ClusterSpec
from .discovery import Node

# The login user of the default image (Debian's cloud images); --ssh-user for others.
DEFAULT_SSH_USER = "admin"


def bootstrap_discovered_nodes(
    spec: ClusterSpec,
    nodes: Sequence[Node],
    ssh: CloudSsh,
    progress: HandoffProgress,
    host_keys: Callable[[str], str | None],
    host_keys_timeout: float = HOST_KEYS_TIMEOUT,
) -> dict[str, Any]:
    """Hand the stack's running nodes to the SSH bootstrap that forms the swarm, after
    pinning the host keys each instance published (``host_keys``: instance id -> record).
    With trust on first use the keys are read once, without waiting for silent nodes."""
    running = [n for n in nodes if n.state == "running" and n.private_ip]
    ids = [node.instance_id for node in running]
    if ssh.trust_on_first_use:
        records = {i: record for i in ids if (record := host_keys(i)) is not None}
    else:
        records = wait_for_each(
            host_keys,
            ids,
            "publishing their host keys",
            timeout=host_keys_timeout,
            info=progress.info,
        )
    settings = ssh.settings(spec, DEFAULT_SSH_USER)
    addresses = {n.instance_id: n.public_ip or n.private_ip or "" for n in running}
    published = [
        PublishedKeys(
            node.instance_id,
            tuple(
                known_hosts_name(a, settings.port) for a in (node.public_ip, node.private_ip) if a
            ),
            records.get(node.instance_id),
        )
        for node in running
    ]
    pin_published_host_keys(settings.known_hosts, published, progress)
    hosts = [
        Host(
            address=addresses[node.instance_id],
            role=node.role,
            zone=node.zone,
            private_address=node.private_ip,
            hostname=node.instance_id,
        )
        for node in running
    ]
    return bootstrap_hosts(spec, hosts, settings, progress)
