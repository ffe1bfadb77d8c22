"""The Docker Engine API's /swarm/init and /swarm/join request bodies, built in one place.

Both ways a swarm is formed send these bodies: the SSH bootstrap (provisioners.commands puts
them on curl's stdin) and the AWS node agent (provisioners.nodeagent.engine posts them to the
local socket). Standard library and swarmstack.contract only: the module ships, compacted, in
the AWS user data (cloudinit.agent.AGENT_MODULES) and runs on the nodes' python3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..contract import SWARM_PORT

NANOSECONDS_PER_HOUR = 3600 * 10**9


def init_options(
    *,
    default_addr_pool: Iterable[str],
    subnet_size: int,
    data_path_port: int,
    cert_expiry_hours: int,
    autolock: bool = False,
) -> dict[str, Any]:
    """The cluster-wide part of /swarm/init (what `docker swarm init`'s flags set)."""
    return {
        "DefaultAddrPool": [str(pool) for pool in default_addr_pool],
        "SubnetSize": int(subnet_size),
        "DataPathPort": int(data_path_port),
        "AutoLockManagers": bool(autolock),
        "Spec": {"CAConfig": {"NodeCertExpiry": int(cert_expiry_hours) * NANOSECONDS_PER_HOUR}},
    }


def _addresses(address: str) -> dict[str, str]:
    # The swarm port bound to the node's private address only (CIS Docker Benchmark 7.2).
    return {"ListenAddr": f"{address}:{SWARM_PORT}", "AdvertiseAddr": address}


def init_body(address: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """/swarm/init for the node at ``address`` with init_options()."""
    return {**_addresses(address), **options}


def join_body(address: str, managers: Iterable[str], token: str) -> dict[str, Any]:
    """/swarm/join for the node at ``address``. ``token`` is the join token itself or, for the
    SSH bootstrap, the placeholder its executor fills in on the way to the host's stdin."""
    return {**_addresses(address), "RemoteAddrs": list(managers), "JoinToken": token}
