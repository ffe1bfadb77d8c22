"""The hand-off from `local up` to the SSH bootstrap, and the spec the local machines take.

`local up` takes the same spec as every command (-f FILE, SWARMSTACK_*, flags). The machines'
count decides the sizes; the swarm settings (name, pools, autolock, certificates, ...) come
from the spec. Overlay pools must stay in the benchmark range here (the network rule): a spec
FILE written for a cloud may name another pool, which the local machines then replace with
their own; an explicit flag outside the range is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from ...errors import UsageError
from ...spec import ClusterSpec
from ..bootstrap import converge
from ..inventory import inventory_from_data
from ..outcome import BootstrapResult
from ..progress import NullProgress, Progress
from .cluster import LocalCluster
from .plan import (
    SWARM_DEFAULT_ADDR_POOL,
    SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    SWARM_POOL_RANGE,
    Machine,
)

# What `local up` assumes where neither a flag, a variable nor the file says otherwise.
LOCAL_DEFAULTS = {
    "name": "local",
    "manager_size": 3,
    "cluster_size": 2,
    "default_addr_pool": [SWARM_DEFAULT_ADDR_POOL],
    "default_addr_pool_mask_length": SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
}


def _outside(pools: Sequence[str]) -> list[str]:
    return [p for p in pools if not ipaddress.IPv4Network(p).subnet_of(SWARM_POOL_RANGE)]


def local_spec(
    spec: ClusterSpec, *, pool_from_flag: bool, warn: Callable[[str], None]
) -> ClusterSpec:
    """The spec with overlay pools the local machines can use (see the module docstring)."""
    outside = _outside(spec.default_addr_pool)
    if not outside:
        return spec
    if pool_from_flag:
        raise UsageError(
            f"--default-addr-pool={','.join(outside)}: must lie inside {SWARM_POOL_RANGE} on "
            "the local machines (the benchmark range, clear of their own addresses)"
        )
    warn(
        f"default_addr_pool={','.join(spec.default_addr_pool)} lies outside "
        f"{SWARM_POOL_RANGE}, where the local machines' overlays must stay: "
        f"using {SWARM_DEFAULT_ADDR_POOL}/{SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH} instead"
    )
    return _replaced(
        spec,
        default_addr_pool=[SWARM_DEFAULT_ADDR_POOL],
        default_addr_pool_mask_length=SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    )


def _replaced(spec: ClusterSpec, **values: object) -> ClusterSpec:
    """A copy with some values replaced, validated like any spec."""
    return ClusterSpec.model_validate({**spec.model_dump(), **values})


def form_swarm(
    cluster: LocalCluster,
    spec: ClusterSpec,
    *,
    leaving: Sequence[Machine] = (),
    progress: Progress | None = None,
) -> BootstrapResult:
    """Hand the machines to the SSH bootstrap, which forms or converges the swarm.

    While scaling down, ``leaving`` are the machines about to be powered off: they are listed
    as ``state: absent``, so their nodes are drained, demoted, leave and are removed first.
    """
    data = cluster.inventory()
    gone = {m.name for m in leaving}
    for host in data["hosts"]:
        if host.get("hostname") in gone:
            host["state"] = "absent"
    inventory = inventory_from_data(data, base=cluster.dir, source=f"local cluster {cluster.name}")
    sized = _replaced(
        spec, manager_size=max(1, len(inventory.managers)), cluster_size=len(inventory.workers)
    )
    return converge(sized, inventory, progress=progress or NullProgress(), local_machine=True)
