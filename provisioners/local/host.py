"""Host kernel limits the local machines need.

Every machine runs its own systemd, dockerd and containerd, and each of them takes inotify
instances from one host-wide per-user pool (fs.inotify.max_user_instances, 128 by default).
A few machines exhaust it and the next one dies at boot with "Failed to allocate manager
object: Too many open files". Likewise the kernel's neighbour (ARP) table is one for all
network namespaces: every machine's neighbours (and docker's, in a swarm every node talks to
every other) count against net.ipv4.neigh.default.gc_thresh3 (1024 by default); past it the
kernel logs "neighbor table overflow" and connections fail with "no route to host" - a
50-node swarm's joins time out. So `up` raises the limits - never lowers them - and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...errors import LocalProviderError

# Generous: ~40 instances per machine leaves room for a few hundred machines.
MINIMUMS = {
    "fs.inotify.max_user_instances": 8192,
    "fs.inotify.max_user_watches": 524288,
    # Keep entries up to thresh1 without garbage collection; thresh3 is the hard cap.
    "net.ipv4.neigh.default.gc_thresh1": 4096,
    "net.ipv4.neigh.default.gc_thresh2": 16384,
    "net.ipv4.neigh.default.gc_thresh3": 32768,
}


def _path(key: str) -> Path:
    return Path("/proc/sys", *key.split("."))


def ensure_limits(progress: Callable[[str], None]) -> None:
    for key, minimum in MINIMUMS.items():
        path = _path(key)
        try:
            current = int(path.read_text())
            if current < minimum:
                path.write_text(f"{minimum}\n")
                progress(f"raised {key} from {current} to {minimum} (machines share this pool)")
        except (OSError, ValueError) as exc:
            raise LocalProviderError(
                f"cannot raise {key} to {minimum}: {exc}",
                hint=f"set it yourself: sysctl -w {key}={minimum}",
            ) from None
