"""Facts: what each host is now, read in one read-only round trip and parsed into plain data.

``FACTS_COMMAND`` prints tagged sections (docker info as JSON, the docker service state, the
host-tuning marker and, on managers, the node list as the Engine API gives it);
``parse_facts`` turns that text into ``HostFacts``. Parsing is pure, so planning can be
tested from data files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..contract import DOCKER_SOCKET, TUNING_MARKER

# How long the facts wait for a running cloud-init to finish (package installs included).
CLOUD_INIT_WAIT_SECONDS = 900
# The marker's "cloud" for the SSH form of the tuning; any other value was written by
# cloud-init from a cloud's user data.
SSH_TUNING_CLOUD = "generic"
# One round trip, read-only. Sections start with a line "@@name". Shell builtins where they
# do (every process counts when many hosts share little CPU). The daemon's info comes from the
# Engine API with curl (the same JSON as `docker info --format '{{json .}}'` without the
# client's part), a third of the docker CLI's cost; without curl, or when the API does not
# answer, from the docker CLI.
FACTS_COMMAND = (
    "echo @@hostname; read -r h < /proc/sys/kernel/hostname && printf '%s\\n' \"$h\"; "
    # A host without the marker may still be running cloud-init, whose last step writes it:
    # wait for cloud-init (bounded) before reading it, never tune a host under its feet.
    f"[ -r {TUNING_MARKER} ] || {{ command -v cloud-init >/dev/null 2>&1 && "
    f"timeout {CLOUD_INIT_WAIT_SECONDS} cloud-init status --wait >/dev/null 2>&1; }}; "
    f"echo @@tuning; [ -r {TUNING_MARKER} ] && read -r t < {TUNING_MARKER} && "
    "printf '%s\\n' \"$t\"; "
    "if ! command -v docker >/dev/null 2>&1; then echo @@nodocker; exit 0; fi; "
    f"info=$(curl -sf --unix-socket {DOCKER_SOCKET} http://localhost/info 2>/dev/null "
    "|| docker info --format '{{json .}}' 2>/dev/null); "
    "echo @@info; printf '%s\\n' \"$info\"; "
    'case "$info" in *\'"ControlAvailable":true\'*) '
    "echo @@nodes; "
    # The node list from the Engine API (one JSON array); from the CLI where that fails.
    f"if n=$(curl -sf --unix-socket {DOCKER_SOCKET} http://localhost/nodes); then "
    "printf '%s\\n' \"$n\"; else ids=$(docker node ls -q 2>&1) || "
    "{ printf '%s\\n' \"$ids\"; echo @@nodes-failed; exit 0; }; "
    # The CLI's inspect prints the API's node objects, one per line with this format.
    "docker node inspect --format '{{json .}}' $ids 2>&1 || echo @@nodes-failed; fi;; esac"
)


@dataclass(frozen=True)
class SwarmNode:
    """One node as a manager sees it (``docker node inspect``, or ``docker node ls``)."""

    id: str
    hostname: str
    role: str  # manager, worker
    availability: str  # active, pause, drain
    state: str  # ready, down, unknown, disconnected
    addr: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    leader: bool = False
    reachability: str = ""  # reachable, unreachable (managers)

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def reachable(self) -> bool:
        """A raft member the others hear from (a new leader shows states as unknown for a
        while; raft reachability is what matters for running manager commands)."""
        return self.is_manager and self.reachability == "reachable"


@dataclass(frozen=True)
class HostFacts:
    """What one host is, as far as the swarm is concerned."""

    address: str
    hostname: str = ""
    docker_installed: bool = True
    docker_running: bool = False
    docker_version: str = ""
    swarm_state: str = "inactive"  # inactive, pending, active, locked, error
    swarm_error: str = ""
    node_id: str = ""
    node_addr: str = ""
    is_manager: bool = False  # ControlAvailable
    cluster_id: str = ""  # only managers know it
    remote_managers: tuple[str, ...] = ()  # addresses (host:port) the node knows
    cluster_settings: dict[str, Any] = field(default_factory=dict)
    tuning_digest: str = ""
    # The host was tuned by cloud-init from a cloud's user data (its marker names the cloud):
    # the SSH bootstrap accepts it as tuned and never applies the generic tuning over it
    # (on AWS that would replace the awslogs driver and restart dockerd).
    tuned_by_cloud_init: bool = False
    nodes: tuple[SwarmNode, ...] | None = None  # docker node ls, managers only
    nodes_error: str = ""
    facts_error: str = ""  # the facts could not be read (the planner refuses to guess)


def parse_facts(address: str, text: str) -> HostFacts:
    """Parse the output of FACTS_COMMAND."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            sections[current] = []
        elif current:
            sections[current].append(line)
    hostname = "".join(sections.get("hostname", [])).strip()
    marker = "".join(sections.get("tuning", []))
    tuning = tuning_digest(marker)
    by_cloud = tuned_by_cloud_init(marker)
    if "nodocker" in sections:
        return HostFacts(
            address, hostname, docker_installed=False, tuning_digest=tuning,
            tuned_by_cloud_init=by_cloud,
        )  # fmt: skip
    raw_info = "\n".join(sections.get("info", [])).strip()
    info = _json_object(raw_info)
    if raw_info and not info:
        return HostFacts(
            address, hostname, docker_running=True, tuning_digest=tuning,
            tuned_by_cloud_init=by_cloud, facts_error=f"unreadable docker info: {raw_info[:120]}",
        )  # fmt: skip
    if not info or info.get("ServerErrors") or not info.get("ServerVersion"):
        return HostFacts(
            address, hostname, docker_running=False, tuning_digest=tuning,
            tuned_by_cloud_init=by_cloud,
        )  # fmt: skip
    swarm = info.get("Swarm") or {}
    cluster = swarm.get("Cluster") or {}
    nodes: tuple[SwarmNode, ...] | None = None
    nodes_error = ""
    if "nodes" in sections:
        nodes, nodes_error = _parse_nodes(sections["nodes"])
    if "nodes-failed" in sections:
        nodes = None
    return HostFacts(
        address=address,
        hostname=str(info.get("Name") or hostname),
        docker_running=True,
        docker_version=str(info.get("ServerVersion", "")),
        swarm_state=str(swarm.get("LocalNodeState") or "inactive"),
        swarm_error=str(swarm.get("Error") or ""),
        node_id=str(swarm.get("NodeID") or ""),
        node_addr=str(swarm.get("NodeAddr") or ""),
        is_manager=bool(swarm.get("ControlAvailable")),
        cluster_id=str(cluster.get("ID") or ""),
        remote_managers=tuple(
            str(m.get("Addr", "")) for m in (swarm.get("RemoteManagers") or []) if m
        ),
        cluster_settings=_cluster_settings(cluster),
        tuning_digest=tuning,
        tuned_by_cloud_init=by_cloud,
        nodes=nodes,
        nodes_error=nodes_error,
    )


def tuning_digest(marker: str) -> str:
    """The "tuning" digest from the marker's JSON line; "" (not tuned) for anything else.

    A marker in another form (an older build's plain digest line, a truncated write, garbage)
    means the host's tuning is unknown, so it is tuned again - which is idempotent.
    """
    value = _json_object(marker).get("tuning")
    if isinstance(value, str) and value.isascii() and value.isalnum():
        return value
    return ""


def tuned_by_cloud_init(marker: str) -> bool:
    """The marker was written by cloud-init's tuning for a cloud (not the SSH form)."""
    if not tuning_digest(marker):
        return False
    cloud = _json_object(marker).get("cloud")
    return isinstance(cloud, str) and cloud not in ("", SSH_TUNING_CLOUD)


def _json_object(text: str) -> dict[str, Any]:
    text = text.strip()
    if not text.startswith("{"):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def parse_node_lines(lines: list[str]) -> tuple[SwarmNode, ...]:
    """Parse the Engine API's node list (GET /nodes, a JSON array on one line), its node
    objects one per line (``docker node inspect --format '{{json .}}'``) or
    ``docker node ls --format '{{json .}}'`` lines.

    Raises ValueError when a line is not one of them.
    """
    nodes: list[SwarmNode] = []
    for line in lines:
        if not line.strip():
            continue
        item = json.loads(line)
        if isinstance(item, list):
            nodes.extend(_api_node(node) for node in item)
        elif isinstance(item, dict) and "Spec" in item:  # docker node inspect
            nodes.append(_api_node(item))
        elif isinstance(item, dict) and "ID" in item:  # docker node ls
            nodes.append(_listed_node(item))
        else:
            raise ValueError(line[:80])
    return tuple(nodes)


def _listed_node(item: dict[str, Any]) -> SwarmNode:
    """One line of ``docker node ls --format '{{json .}}'`` (no labels, no address)."""
    manager_status = str(item.get("ManagerStatus") or "")
    return SwarmNode(
        id=str(item["ID"]),
        hostname=str(item.get("Hostname", "")),
        role="manager" if manager_status else "worker",
        availability=str(item.get("Availability", "")).lower(),
        state=str(item.get("Status", "")).lower(),
        leader=manager_status == "Leader",
        reachability="reachable"
        if manager_status in ("Leader", "Reachable")
        else manager_status.lower(),
    )


def _api_node(item: object) -> SwarmNode:
    """One node of the Engine API's node list (the object `docker node inspect` prints)."""
    if not isinstance(item, dict):
        raise ValueError(f"not a node: {str(item)[:80]}")
    spec, status = item.get("Spec") or {}, item.get("Status") or {}
    manager = item.get("ManagerStatus") or {}
    return SwarmNode(
        id=str(item["ID"]),
        hostname=str((item.get("Description") or {}).get("Hostname") or ""),
        role=str(spec.get("Role") or "worker"),
        availability=str(spec.get("Availability") or ""),
        state=str(status.get("State") or ""),
        addr=str(status.get("Addr") or ""),
        labels={str(k): str(v) for k, v in (spec.get("Labels") or {}).items()},
        leader=bool(manager.get("Leader")),
        reachability=str(manager.get("Reachability") or ""),
    )


def _parse_nodes(lines: list[str]) -> tuple[tuple[SwarmNode, ...] | None, str]:
    try:
        return parse_node_lines(lines), ""
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, " ".join(line.strip() for line in lines if line.strip())[:300]


def _cluster_settings(cluster: dict[str, Any]) -> dict[str, Any]:
    """The cluster-wide settings we reconcile or warn about (managers only)."""
    if not cluster:
        return {}
    spec = cluster.get("Spec") or {}
    expiry_ns = (spec.get("CAConfig") or {}).get("NodeCertExpiry")
    return {
        "cert_expiry_hours": int(expiry_ns // 3_600_000_000_000) if expiry_ns else None,
        "autolock": bool((spec.get("EncryptionConfig") or {}).get("AutoLockManagers")),
        "default_addr_pool": list(cluster.get("DefaultAddrPool") or []),
        "default_addr_pool_mask_length": cluster.get("SubnetSize"),
        "data_path_port": cluster.get("DataPathPort"),
    }
