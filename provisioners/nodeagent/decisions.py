"""What the node agent does, decided from facts alone: no AWS, no Docker, no clock.

Every function takes what the adapters read (plain dataclasses) and returns what to do next;
``main`` carries it out and asks again. Asking again after every action keeps each decision
small and makes every loop safe to interrupt: a restarted agent reads the facts and goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from ...contract import LABEL_INSTANCE, LABEL_ROLE, LABEL_ZONE, quorum

# A lease not renewed for LEASE_STALE seconds belongs to a dead holder and may be taken over;
# holders renew it at each step and hold it at most a join plus two minutes to become Ready.
LEASE_STALE = 300.0
# A Down node whose instance is gone (terminated, shutting down or unknown to EC2) is removed
# after this long. Stopped instances are never swept, so the grace only has to outlast
# DescribeInstances' eventual consistency and a notice the lifecycle hook is still handling.
SWEEP_GRACE = 60.0


# --- leases: one writer at a time, on a store that only offers "create if absent" ----------


@dataclass(frozen=True)
class Lease:
    """One generation of a lease: /swarmstack/<stack>/lease/<name>/<generation>."""

    generation: int
    holder: str
    heartbeat: float
    released: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {"holder": self.holder, "heartbeat": self.heartbeat, "released": self.released},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, generation: int, text: str) -> Lease:
        data = json.loads(text)
        return cls(
            generation,
            str(data["holder"]),
            float(data["heartbeat"]),
            bool(data.get("released", False)),
        )


@dataclass(frozen=True)
class LeaseDecision:
    """``take``: create generation ``generation`` (it may still fail: someone was faster);
    ``held``: it is ours already; ``wait``: ``holder`` has it and is alive."""

    verdict: str
    generation: int
    holder: str = ""


def lease_decision(leases: list[Lease], me: str, now: float) -> LeaseDecision:
    """Take a lease only as the next generation: creating a name that must not exist is the
    one atomic step, so two takers of a stale lease never both win (nothing is overwritten)."""
    if not leases:
        return LeaseDecision("take", 1)
    latest = max(leases, key=lambda lease: lease.generation)
    if latest.holder == me and not latest.released:
        return LeaseDecision("held", latest.generation, me)
    if latest.released or now - latest.heartbeat > LEASE_STALE:
        return LeaseDecision("take", latest.generation + 1)
    return LeaseDecision("wait", latest.generation, latest.holder)


# --- boot: what this node does next to be in the swarm -------------------------------------


@dataclass(frozen=True)
class NodeIdentity:
    """What the instance metadata says about this node."""

    instance_id: str
    stack: str
    role: str  # manager or worker
    zone: str
    region: str
    address: str  # private IPv4: the swarm advertise address


@dataclass(frozen=True)
class LocalSwarm:
    """The local engine's view (GET /info): state is inactive, pending, active, error, locked."""

    state: str
    node_id: str = ""
    is_manager: bool = False
    cluster_id: str = ""


@dataclass(frozen=True)
class SwarmRecord:
    """The non-secret record the first manager writes once the swarm exists."""

    cluster_id: str
    managers: tuple[str, ...]  # "ip:port" (the swarm port) of managers in the swarm

    def to_json(self) -> str:
        return json.dumps({"cluster_id": self.cluster_id, "managers": list(self.managers)})

    @classmethod
    def from_json(cls, text: str) -> SwarmRecord:
        data = json.loads(text)
        return cls(str(data["cluster_id"]), tuple(str(m) for m in data["managers"]))


def boot_step(me: NodeIdentity, local: LocalSwarm, record: SwarmRecord | None) -> str:
    """The next boot action: done, init (first manager), publish, join, wait, or fail:<why>."""
    if local.state == "locked":
        return "fail:this manager is locked (autolock): unlock it with `docker swarm unlock`"
    if local.state == "pending":
        return "wait"  # a join in progress (or retried by the engine)
    if local.state == "active":
        if record is not None and local.cluster_id and local.cluster_id != record.cluster_id:
            return "fail:this node is in swarm " + local.cluster_id[:12] + ", not the stack's"
        if me.role == "manager" and not local.is_manager:
            return "fail:this node is a worker of the swarm but its instance is a manager"
        if record is None and me.role == "manager":
            return "publish"  # formed here, tokens not stored yet (the agent was interrupted)
        return "done"
    # inactive (or error: the engine gave up on a join; join again)
    if record is None:
        return "init" if me.role == "manager" else "wait"
    return "join"


# --- swarm nodes as the leader sees them (GET /nodes) ---------------------------------------


@dataclass(frozen=True)
class SwarmNode:
    id: str
    version: int
    role: str  # manager or worker
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    address: str  # the node's IP
    labels: dict[str, str] = field(default_factory=dict)
    reachability: str = ""  # managers: reachable, unreachable, unknown
    leader: bool = False
    updated: float = 0.0

    @property
    def instance_id(self) -> str:
        return self.labels.get(LABEL_INSTANCE, "")


@dataclass(frozen=True)
class Instance:
    """An EC2 instance of the stack (DescribeInstances, filtered by the cluster tag)."""

    id: str
    address: str
    zone: str
    role: str
    state: str  # pending, running, shutting-down, terminated, stopping, stopped


def desired_labels(instance: Instance) -> dict[str, str]:
    return {LABEL_ROLE: instance.role, LABEL_ZONE: instance.zone, LABEL_INSTANCE: instance.id}


def label_updates(nodes: list[SwarmNode], instances: list[Instance]) -> list[SwarmNode]:
    """Nodes whose labels must change, with the labels they must end up with.

    A node is matched to its instance by address; labels other than ours are kept.
    """
    # Terminated instances stay listed for a while; their address may be a new instance's.
    live = [i for i in instances if i.address and i.state in ("pending", "running")]
    by_address = {i.address: i for i in live}
    updates = []
    for node in nodes:
        instance = by_address.get(node.address)
        if instance is None:
            continue
        labels = {**node.labels, **desired_labels(instance)}
        if labels != node.labels:
            updates.append(replace(node, labels=labels))
    return updates


def manager_addresses(nodes: list[SwarmNode], port: int) -> tuple[str, ...]:
    """Where joiners go: the reachable managers, leader first."""
    managers = [n for n in nodes if n.role == "manager" and n.reachability == "reachable"]
    managers.sort(key=lambda n: (not n.leader, n.address))
    return tuple(f"{n.address}:{port}" for n in managers)


def can_remove_manager(nodes: list[SwarmNode], leaving: SwarmNode) -> bool:
    """Demoting ``leaving`` keeps raft's majority: the other reachable managers are a quorum
    of the managers that remain."""
    managers = [n for n in nodes if n.role == "manager"]
    others = [n for n in managers if n.id != leaving.id and n.reachability == "reachable"]
    remaining = len(managers) - 1
    return remaining >= 1 and len(others) >= quorum(remaining)


# --- leaving instances: the termination lifecycle hook's notices ---------------------------


@dataclass(frozen=True)
class Notice:
    """One message of the lifecycle queue."""

    receipt: str
    instance_id: str = ""
    group: str = ""
    hook: str = ""
    token: str = ""
    transition: str = ""

    @property
    def is_termination(self) -> bool:
        return self.transition == "autoscaling:EC2_INSTANCE_TERMINATING" and bool(
            self.instance_id and self.group and self.hook
        )


def parse_notice(receipt: str, body: str) -> Notice:
    """The Auto Scaling message body; anything else (test notifications, junk) has no transition."""
    try:
        data = json.loads(body)
    except ValueError:
        return Notice(receipt)
    if not isinstance(data, dict):
        return Notice(receipt)
    return Notice(
        receipt=receipt,
        instance_id=str(data.get("EC2InstanceId", "")),
        group=str(data.get("AutoScalingGroupName", "")),
        hook=str(data.get("LifecycleHookName", "")),
        token=str(data.get("LifecycleActionToken", "")),
        transition=str(data.get("LifecycleTransition", "")),
    )


def find_node(nodes: list[SwarmNode], instance_id: str, address: str) -> SwarmNode | None:
    for node in nodes:
        if node.instance_id == instance_id:
            return node
    for node in nodes:
        if address and node.address == address:
            return node
    return None


def leaving_step(notice: Notice, node: SwarmNode | None, nodes: list[SwarmNode]) -> str:
    """The next step for a terminating instance: drain, demote, remove, wait, complete, discard.

    ``wait`` means: keep the instance (heartbeat the lifecycle action) and ask again later;
    a manager is demoted only while the others keep quorum.
    """
    if not notice.is_termination:
        return "discard"
    if node is None:
        return "complete"
    if node.availability != "drain":
        return "drain"
    if node.role == "manager":
        return "demote" if can_remove_manager(nodes, node) else "wait"
    return "remove"


# --- sweeping nodes whose instance went away without the hook -------------------------------


def sweep(
    nodes: list[SwarmNode],
    instance_states: dict[str, str],
    down_since: dict[str, float],
    now: float,
) -> tuple[list[SwarmNode], dict[str, float]]:
    """Down nodes whose instance is gone (unknown to EC2, terminated or terminating) for
    SWEEP_GRACE seconds: to remove (managers only while quorum allows). Returns them and the
    new down_since record (first time each Down node was seen)."""
    record: dict[str, float] = {}
    remove = []
    for node in nodes:
        if node.state != "down" or not node.instance_id:
            continue
        state = instance_states.get(node.instance_id, "absent")
        if state not in ("absent", "terminated", "shutting-down"):
            continue
        since = down_since.get(node.id, now)
        record[node.id] = since
        if now - since < SWEEP_GRACE:
            continue
        if node.role == "manager" and not can_remove_manager(nodes, node):
            continue
        remove.append(node)
    return remove, record


# --- published ports ------------------------------------------------------------------------


def ingress_ports(services: list[dict[str, Any]]) -> set[int]:
    """TCP ports that services publish through the routing mesh (GET /services)."""
    ports = set()
    for service in services:
        endpoint = service.get("Endpoint") or {}
        for entry in endpoint.get("Ports") or []:
            if (
                entry.get("PublishMode", "ingress") == "ingress"
                and entry.get("Protocol", "tcp") == "tcp"
                and entry.get("PublishedPort")
            ):
                ports.add(int(entry["PublishedPort"]))
    return ports


def port_changes(
    wanted: set[int], fixed: set[int], managed: set[int]
) -> tuple[list[int], list[int]]:
    """Listeners to add and to remove. The spec's published ports (``fixed``) always have
    one and are never removed; a service's port has one while a service publishes it."""
    desired = wanted | fixed
    return sorted(desired - managed), sorted(managed - desired)


# --- console parameters read from the instance's tags --------------------------------------


def daemon_config_for(
    config: dict[str, Any], region: str, log_group: str | None, local_opts: dict[str, str]
) -> dict[str, Any]:
    """daemon.json with the log driver the stack asks for: awslogs to ``log_group`` when the
    instance carries the log group tag (EnableCloudWatchLogs=yes), else ``local``."""
    result = {k: v for k, v in config.items() if k not in ("log-driver", "log-opts")}
    if log_group:
        result["log-driver"] = "awslogs"
        # non-blocking: a CloudWatch hiccup must not stall containers writing to stdout.
        result["log-opts"] = {
            "awslogs-region": region,
            "awslogs-group": log_group,
            "mode": "non-blocking",
            "max-buffer-size": "4m",
        }
    else:
        result["log-driver"] = "local"
        result["log-opts"] = dict(local_opts)
    return result
