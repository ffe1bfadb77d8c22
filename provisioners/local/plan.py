"""Pure planning for the local machines: names, addresses, zones and scale changes.

No I/O here, so every rule is unit-tested: a cluster owns one /24 of 198.18.0.0/16 (its
bridge is .1, machines .11 upwards); managers are ss-m1.., workers ss-w1..; scaling down
removes the highest-numbered machines of a role; a machine keeps its address for its lifetime.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ...contract import MANAGER_SIZES, MANAGER_SIZES_PHRASE
from ...errors import UsageError

Role = Literal["manager", "worker"]
ROLE_PREFIX: dict[Role, str] = {"manager": "ss-m", "worker": "ss-w"}
ZONES = ("a", "b", "c")
# Test hosts live only in the benchmark range; 198.19.0.0/16 is left to docker in the machines.
MACHINE_SUPERNET = ipaddress.IPv4Network("198.18.0.0/16")
# `docker swarm init --default-addr-pool` for the local machines: overlay networks stay in
# the benchmark range too, clear of the host-local pool the host tuning then picks for
# daemon.json (198.19.128.0/18, see cloudinit.tuning.LOCAL_MACHINE_POOL_CANDIDATES).
SWARM_DEFAULT_ADDR_POOL = "198.19.0.0/18"
# Where a spec's own swarm pools may lie on the local machines (clear of the same three).
SWARM_POOL_RANGE = ipaddress.IPv4Network("198.19.0.0/17")
SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH = 24
SUBNETS = 256
FIRST_HOST = 11
LAST_HOST = 254
MAX_MANAGERS = max(MANAGER_SIZES)
MAX_WORKERS = LAST_HOST - FIRST_HOST + 1 - MAX_MANAGERS


@dataclass(frozen=True)
class Machine:
    """One local machine: `name` is also its hostname; `zone` spreads managers a, b, c."""

    name: str
    role: Role
    index: int  # ss-m<index> / ss-w<index>, from 1
    address: str

    @property
    def zone(self) -> str:
        return ZONES[(self.index - 1) % len(ZONES)]

    @property
    def host_number(self) -> int:
        """The last octet of the address (also used to name the machine's veth)."""
        return int(self.address.rsplit(".", 1)[1])


@dataclass(frozen=True)
class ScalePlan:
    """What `up` changes: machines to keep, to create and to power off and delete."""

    keep: tuple[Machine, ...] = ()
    add: tuple[Machine, ...] = ()
    remove: tuple[Machine, ...] = field(default=())

    @property
    def target(self) -> tuple[Machine, ...]:
        """The machines that exist after the change, managers first."""
        return sort_machines((*self.keep, *self.add))

    @property
    def changes(self) -> bool:
        return bool(self.add or self.remove)


def subnet(index: int) -> ipaddress.IPv4Network:
    """The /24 of cluster number `index` (0..255) inside 198.18.0.0/16."""
    if not 0 <= index < SUBNETS:
        raise ValueError(f"subnet index must be 0..{SUBNETS - 1}, got {index}")
    return ipaddress.IPv4Network((int(MACHINE_SUPERNET.network_address) + index * 256, 24))


def bridge_address(index: int) -> str:
    return str(subnet(index).network_address + 1)


def free_subnet(used: Iterable[int]) -> int:
    """The lowest /24 no other local cluster uses (the default cluster gets 198.18.0.0/24)."""
    taken = set(used)
    for index in range(SUBNETS):
        if index not in taken:
            return index
    raise UsageError(f"all {SUBNETS} local cluster networks are in use; `local down` some")


def sort_machines(machines: Iterable[Machine]) -> tuple[Machine, ...]:
    return tuple(sorted(machines, key=lambda m: (m.role != "manager", m.index)))


def check_counts(managers: int, workers: int) -> None:
    """Bad counts fail before anything is created, naming the parameter."""
    if managers not in MANAGER_SIZES:
        raise UsageError(
            f"--managers={managers}: must be {MANAGER_SIZES_PHRASE} (raft needs an odd count; "
            "more than 7 slows every write)"
        )
    if not 0 <= workers <= MAX_WORKERS:
        raise UsageError(
            f"--workers={workers}: must be between 0 and {MAX_WORKERS} on one local network"
        )


def plan_scale(
    current: Sequence[Machine], managers: int, workers: int, subnet_index: int
) -> ScalePlan:
    """Keep the lowest-numbered machines of each role, add the missing, remove the surplus."""
    check_counts(managers, workers)
    network = subnet(subnet_index)
    used_hosts = {m.host_number for m in current}
    keep: list[Machine] = []
    add: list[Machine] = []
    remove: list[Machine] = []
    wanted_by_role: tuple[tuple[Role, int], ...] = (("manager", managers), ("worker", workers))
    for role, wanted in wanted_by_role:
        existing = sorted((m for m in current if m.role == role), key=lambda m: m.index)
        keep += existing[:wanted]
        remove += existing[wanted:]
        have = {m.index for m in existing[:wanted]}
        index = 1
        while len(have) < wanted:
            if index not in have:
                host = _free_host(used_hosts)
                used_hosts.add(host)
                address = str(network.network_address + host)
                add.append(Machine(f"{ROLE_PREFIX[role]}{index}", role, index, address))
                have.add(index)
            index += 1
    return ScalePlan(sort_machines(keep), sort_machines(add), sort_machines(remove))


def _free_host(used: set[int]) -> int:
    for host in range(FIRST_HOST, LAST_HOST + 1):
        if host not in used:
            return host
    raise UsageError("no free address left on the local cluster network")  # pragma: no cover
