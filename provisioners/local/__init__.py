"""The local provider: real Debian machines on this Linux box (systemd-nspawn + netns).

Each machine is a Debian 12 system with systemd as PID 1, its own network namespace and address
in 198.18.0.0/15, sshd and dockerd, so the SSH bootstrap forms a real swarm as on cloud VMs.
The recipe is ../shared/reference/local-testbed.md. Needs root.

Public API: `LocalCluster` (up/down/status/reboot/inventory), `Machine`, `ScalePlan`.
"""

from __future__ import annotations

from .cluster import BeforeRemove, LocalCluster, cluster_names
from .images import busybox_image
from .plan import Machine, ScalePlan

__all__ = ["BeforeRemove", "LocalCluster", "Machine", "ScalePlan", "busybox_image", "cluster_names"]
