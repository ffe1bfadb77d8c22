"""The local provider: real Debian machines on this Linux box (systemd-nspawn + netns).

Each machine is a Debian 12 system with systemd as PID 1, its own network namespace and address
in 198.18.0.0/15, sshd and dockerd, so the SSH bootstrap forms a real swarm as on cloud VMs.
The recipe is ../shared/reference/local-testbed.md. Needs root.

Public API: `LocalCluster` (up/down/status/reboot/inventory), `Machine`, `ScalePlan`,
`busybox_image()` (a `docker load`-able tarball for tests), and the swarm address pool the
bootstrap must pass to `docker swarm init` on these machines.
"""

from __future__ import annotations

from .cluster import BeforeRemove, LocalCluster, check_name, cluster_names
from .images import busybox_image
from .plan import (
    SWARM_DEFAULT_ADDR_POOL,
    SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    Machine,
    ScalePlan,
)
from .run import require_root

__all__ = [
    "SWARM_DEFAULT_ADDR_POOL",
    "SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH",
    "BeforeRemove",
    "LocalCluster",
    "Machine",
    "ScalePlan",
    "busybox_image",
    "check_name",
    "cluster_names",
    "require_root",
]
