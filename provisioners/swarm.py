"""The swarm state machine: facts in, steps out. Pure - no SSH, no clock, no randomness.

``plan_swarm`` compares what the hosts are (HostFacts) with what the inventory and the spec
ask for, and returns the steps that close the gap as plain data, so every run is a reconcile
and a formed swarm yields an empty plan ("no changes"). Steps form a small dependency graph
(``after``) that the orchestrator runs as early as it can:

- a new swarm: ``init`` on the first manager; managers ``join`` one at a time (each changes raft
  membership); workers ``join`` in parallel as soon as the first manager is up, pointed at the
  managers already in the swarm (round-robin);
- labels (``swarmstack.role``, ``swarmstack.zone``) and availability (managers drained when
  they must not run workloads) via one ``update`` per node on the anchor manager, right after
  that node's join and by the node id the join printed - never on the manager joins' chain
  (the next manager joins without waiting for a label) nor after the last worker's join;
- scale: new hosts join; ``promote``/``demote`` one at a time; hosts marked ``state: absent``
  are drained, demoted (managers), ``leave`` and are removed (``remove``), never below quorum;
- lost managers (marked absent, unreachable in raft) are demoted and removed before any manager
  is added; every promotion is followed by ``verify-manager`` (a Reachable manager, or the
  node is repaired by rejoining as a manager through a live one).

Errors (a host in another swarm, lost quorum, a plan that would lose quorum) are raised before
anything is changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..contract import LABEL_ROLE, LABEL_ZONE, SWARM_PORT, quorum
from ..errors import ForeignSwarm, QuorumError, QuorumLost, SwarmError
from ..spec import ClusterSpec
from .facts import HostFacts, SwarmNode
from .inventory import Host, Inventory


@dataclass(frozen=True)
class Step:
    """One mutation. ``host`` runs the command; ``target`` is the host it is about."""

    id: str
    # init, join, leave, promote, verify-manager, demote, update, drain, remove, swarm-update
    action: str
    host: str
    target: str
    args: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["after"] = list(self.after)
        return data


@dataclass(frozen=True)
class ExpectedNode:
    address: str
    hostname: str
    role: str


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    anchor: str  # the manager that runs cluster commands (the init host for a new swarm)
    cluster_id: str  # "" when a new swarm is formed
    expected: tuple[ExpectedNode, ...]  # every present host, as it must end up
    removed: tuple[str, ...] = ()  # node ids that must be gone at the end
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "anchor": self.anchor,
            "cluster_id": self.cluster_id,
            "steps": [step.to_dict() for step in self.steps],
            "expected": [asdict(node) for node in self.expected],
            "removed": list(self.removed),
            "warnings": list(self.warnings),
        }


def desired_labels(host: Host) -> dict[str, str]:
    labels: dict[str, str] = {LABEL_ROLE: host.role}
    if host.zone:
        labels[LABEL_ZONE] = host.zone
    return labels


class _Planner:
    def __init__(
        self, spec: ClusterSpec, inventory: Inventory, facts: Mapping[str, HostFacts]
    ) -> None:
        self.spec = spec
        self.inventory = inventory
        self.facts = facts
        self.steps: list[Step] = []
        self.warnings: list[str] = []
        self.removed: list[str] = []
        self.batch: list[dict[str, Any]] = []  # updates run together (update-many)
        self.batch_after: list[str] = []
        self.total = 0  # raft managers along the membership chain
        self.reachable = 0

    def add(
        self,
        action: str,
        host: str,
        target: str,
        after: list[str] | tuple[str, ...] = (),
        **args: Any,
    ) -> str:
        step_id = f"{action}:{target}"
        self.steps.append(Step(step_id, action, host, target, dict(args), tuple(after)))
        return step_id

    # --- reading the current state -----------------------------------------------------

    def check_hosts(self) -> None:
        problems = []
        for host in self.inventory.present:
            f = self.facts.get(host.address)
            if f is None:
                problems.append(f"{host.address}: no facts (host not reached)")
            elif f.facts_error:
                problems.append(f"{host.address}: {f.facts_error}")
            elif not f.docker_installed:
                problems.append(f"{host.address}: docker is not installed")
            elif not f.docker_running:
                problems.append(f"{host.address}: the docker daemon is not running")
            elif f.swarm_state == "locked":
                problems.append(
                    f"{host.address}: this manager is locked (autolock); unlock it with "
                    "`swarmstack unlock -i INVENTORY` (the key bootstrap saved), then re-run"
                )
        if problems:
            raise SwarmError(*problems)
        names: dict[str, str] = {}
        for host in self.inventory.present:
            name = self.facts[host.address].hostname
            if name in names:
                raise SwarmError(
                    f"{host.address} and {names[name]} both have the hostname {name!r}; swarm "
                    "node names must be unique - give each host its own hostname"
                )
            names[name] = host.address

    def find_cluster(self) -> tuple[str, HostFacts | None]:
        """Our swarm: the one the inventory's managers are in (at most one)."""
        clusters: dict[str, list[str]] = {}
        for host in self.inventory.hosts:
            f = self.facts.get(host.address)
            if f and f.swarm_state == "active" and f.is_manager and f.cluster_id:
                clusters.setdefault(f.cluster_id, []).append(host.address)
        if len(clusters) > 1:
            described = "; ".join(
                f"{cid[:12]}: {', '.join(addrs)}" for cid, addrs in sorted(clusters.items())
            )
            raise ForeignSwarm(
                f"the inventory's managers belong to {len(clusters)} different swarms "
                f"({described}); swarmstack will not merge swarms",
                hint="make the hosts of the other swarm leave it (docker swarm leave --force) "
                "or take them out of the inventory",
            )
        if not clusters:
            return "", None
        cluster_id = next(iter(clusters))
        reporters = [self.facts[a] for a in clusters[cluster_id]]
        with_nodes = [f for f in reporters if f.nodes is not None]
        if not with_nodes:
            reason = next((f.nodes_error for f in reporters if f.nodes_error), "")
            raise QuorumLost(
                f"swarm {cluster_id[:12]} has no leader: its managers "
                f"({', '.join(f.address for f in reporters)}) cannot list nodes"
                + (f" ({reason})" if reason else ""),
                hint="raft quorum is lost; recover with `docker swarm init --force-new-cluster` "
                "on a surviving manager, then re-run to restore the manager count",
            )
        # Prefer the view of the leader (freshest).
        for f in with_nodes:
            if any(n.leader and n.id == f.node_id for n in f.nodes or ()):
                return cluster_id, f
        return cluster_id, with_nodes[0]

    # --- planning ---------------------------------------------------------------------

    def plan(self) -> Plan:
        self.check_hosts()
        cluster_id, view = self.find_cluster()
        if view is None:
            return self.plan_new_swarm()
        return self.plan_existing(cluster_id, view)

    def plan_new_swarm(self) -> Plan:
        managers = list(self.inventory.managers)
        for host in self.inventory.present:
            f = self.facts[host.address]
            if f.swarm_state == "active":
                raise ForeignSwarm(
                    f"{host.address} ({f.hostname}) is a {'manager' if f.is_manager else 'worker'}"
                    f" of another swarm (managers {', '.join(f.remote_managers) or 'unknown'})",
                    hint="make it leave that swarm (docker swarm leave --force) or take it out "
                    "of the inventory",
                )
        first = managers[0]
        cleanup = self.leave_half_joined(first)
        init = self.add(
            "init",
            first.address,
            first.address,
            cleanup,
            advertise_addr=first.advertise_address,
            default_addr_pool=list(self.spec.default_addr_pool),
            default_addr_pool_mask_length=self.spec.default_addr_pool_mask_length,
            data_path_port=self.spec.data_path_port,
            autolock=self.spec.autolock,
            cert_expiry_hours=self.spec.cert_expiry_hours,
        )
        self.add_update(first, init, node=self.facts[first.address].hostname, current=None)
        remote = [f"{first.advertise_address}:{SWARM_PORT}"]
        previous = init
        for host in managers[1:]:
            cleanup = self.leave_half_joined(host)
            last = host is managers[-1]
            previous = self.join_manager(host, [previous, *cleanup], remote, then_nodes=last)
        for host in self.inventory.workers:
            cleanup = self.leave_half_joined(host)
            join = self.add(
                "join", host.address, host.address, [init, *cleanup], role="worker",
                remote=remote, advertise_addr=host.advertise_address,
            )  # fmt: skip
            self.add_update(host, join, node=self.facts[host.address].hostname, current=None)
        for host in self.inventory.hosts:
            if host.state == "absent":
                absent = self.facts.get(host.address)
                if absent and absent.swarm_state in ("pending", "error"):
                    self.add("leave", host.address, host.address, force=True)
        return Plan(
            steps=tuple(self.steps),
            anchor=first.address,
            cluster_id="",
            expected=self.expected(),
            warnings=tuple(self.warnings),
        )

    def leave_half_joined(self, host: Host) -> list[str]:
        """A node stuck 'pending' or in 'error' from an earlier join must leave first."""
        f = self.facts[host.address]
        if f.swarm_state in ("pending", "error"):
            return [self.add("leave", host.address, host.address, force=True)]
        return []

    def update_args(
        self, host: Host, *, node: str, current: SwarmNode | None
    ) -> dict[str, Any] | None:
        """Labels and availability for a present host's node, if they differ."""
        labels = desired_labels(host)
        have = current.labels if current else {}
        add = {k: v for k, v in labels.items() if have.get(k) != v}
        remove = [k for k in (LABEL_ROLE, LABEL_ZONE) if k in have and k not in labels]
        availability = None
        if host.role == "manager":
            want = "active" if self.spec.managers_accept_workloads else "drain"
            if (current.availability if current else "active") != want:
                availability = want
        elif current is not None and current.is_manager and current.availability == "drain":
            availability = "active"  # a manager we drained becomes a worker that runs tasks
        if not add and not remove and availability is None:
            return None
        args: dict[str, Any] = {
            "node": node,
            "address": host.address,  # a node that joins in this run: updated by its new id
            "labels_add": add,
            "labels_rm": remove,
        }
        if availability:
            args["availability"] = availability
        return args

    def add_update(
        self,
        host: Host,
        after: str | None,
        *,
        node: str,
        current: SwarmNode | None,
        then_nodes: bool = False,
    ) -> None:
        """An `update` step on the anchor, if the node's labels or availability differ.

        ``then_nodes``: the step also reads the node list, which the wait for Ready uses
        first (the last step of a new swarm: one round trip fewer at the end)."""
        args = self.update_args(host, node=node, current=current)
        if args is not None:
            if then_nodes:
                args["then_nodes"] = True
            self.add("update", "", host.address, [after] if after else [], **args)

    def batch_update(
        self, host: Host, after: str | None, *, node: str, current: SwarmNode | None
    ) -> None:
        """Collect an update into one `update-many` step (one round trip on the anchor)."""
        args = self.update_args(host, node=node, current=current)
        if args is not None:
            self.batch.append(args)
            if after:
                self.batch_after.append(after)

    def flush_batch(self, name: str) -> None:
        if len(self.batch) == 1:
            node = self.batch[0]
            target = next(
                (h.address for h in self.inventory.present if node["node"] in self.node_refs(h)),
                name,
            )
            self.add("update", "", target, self.batch_after, **node)
        elif self.batch:
            self.add("update-many", "", name, self.batch_after, updates=self.batch)
        self.batch, self.batch_after = [], []

    def node_refs(self, host: Host) -> set[str]:
        f = self.facts.get(host.address)
        return {f.hostname, f.node_id} if f else set()

    def join_manager(
        self, host: Host, after: list[str], remote: list[str], *, then_nodes: bool = False
    ) -> str:
        """A manager joins (printing its node id); its labels are an ``update`` of their own
        on the anchor, beside the chain: the next manager joins as soon as this join returns.
        Returns the join step, which the next membership change waits for."""
        join = self.add("join", host.address, host.address, after, role="manager",
                        remote=remote, advertise_addr=host.advertise_address)  # fmt: skip
        hostname = self.facts[host.address].hostname
        self.add_update(host, join, node=hostname, current=None, then_nodes=then_nodes)
        return join

    def plan_existing(self, cluster_id: str, view: HostFacts) -> Plan:
        nodes = {n.id: n for n in view.nodes or ()}
        by_host: dict[str, SwarmNode] = {}
        manager_addrs = {
            n.addr for n in nodes.values() if n.is_manager and n.addr
        }  # raft members' addresses
        for host in self.inventory.hosts:
            node = self.node_of(host, nodes)
            if node is not None:
                by_host[host.address] = node
        # Hosts that are active in a swarm that is not ours.
        for host in self.inventory.present:
            f = self.facts[host.address]
            if host.address in by_host:
                continue
            if f.swarm_state == "active":
                known = {a.rsplit(":", 1)[0] for a in f.remote_managers}
                if f.is_manager or not known & manager_addrs:
                    raise ForeignSwarm(
                        f"{host.address} ({f.hostname}) is a "
                        f"{'manager' if f.is_manager else 'worker'} of another swarm "
                        f"({f.cluster_id[:12] or 'managers ' + ', '.join(sorted(known))}), "
                        f"not of swarm {cluster_id[:12]}",
                        hint="make it leave that swarm (docker swarm leave --force) or take it "
                        "out of the inventory",
                    )

        anchor = self.choose_anchor(by_host, nodes)
        current_managers = [n for n in nodes.values() if n.is_manager]
        self.total = total = len(current_managers)
        self.reachable = reachable = sum(
            1 for n in current_managers if n.reachability == "reachable"
        )
        if reachable < quorum(total):
            raise QuorumLost(
                f"only {reachable} of {total} managers are reachable; the swarm has lost quorum",
                hint="recover with `docker swarm init --force-new-cluster` on a surviving "
                "manager, then re-run",
            )
        claimed = {n.id for n in by_host.values()}
        stale_removals: dict[str, list[str]] = {}
        # Manager membership changes run one at a time, in one chain, growing first (except
        # leftover entries of managers, which only ever shrink an unreachable count).
        chain: list[str] = []
        for host in self.inventory.present:
            hostname = self.facts[host.address].hostname
            mine = by_host.get(host.address)
            for node in nodes.values():
                if node.hostname != hostname or node.id in claimed or (mine and node.id == mine.id):
                    continue
                if node.state == "ready" and node.addr != host.advertise_address:
                    raise SwarmError(
                        f"{host.address}: another live node ({node.id[:12]}) already has the "
                        f"hostname {hostname!r}; swarm node names must be unique"
                    )
                # A leftover entry of this host from before it left or was rebuilt.
                target = host.address + "#" + node.id[:12]
                after: list[str] = []
                if node.is_manager:  # a manager must be demoted before it can be removed
                    self.check_demote(host, node)
                    after = [self.add("demote", anchor, target, chain[-1:], node=node.id)]
                    chain.append(after[0])
                step = self.add("remove", anchor, target, after, node=node.id, force=True)
                stale_removals.setdefault(host.address, []).append(step)
                self.removed.append(node.id)
                claimed.add(node.id)

        # Lost managers leave raft first: a dead member counts against quorum while managers
        # are added, and a node that joins raft while one is dead may never reach quorum.
        absent = [h for h in self.inventory.hosts if h.state == "absent"]
        lost = [h for h in absent if self.is_lost_manager(by_host.get(h.address))]
        for host in lost:
            self.plan_removal(host, by_host.get(host.address), anchor, chain)

        manager_addr_list = sorted(
            {
                f"{h.advertise_address}:{SWARM_PORT}"
                for h in self.inventory.present
                if (n := by_host.get(h.address)) and n.is_manager and n.reachable
            }
        ) or [f"{self.inventory.host(anchor).advertise_address}:{SWARM_PORT}"]
        worker_index = 0
        for host in self.inventory.present:
            node = by_host.get(host.address)
            before = stale_removals.get(host.address, [])
            hostname = self.facts[host.address].hostname
            if node is None:
                before = before + self.leave_stale(host)
                if host.role == "manager":
                    step = self.join_manager(host, chain[-1:] + before, [manager_addr_list[0]])
                    chain.append(step)
                    self.total, self.reachable = self.total + 1, self.reachable + 1
                else:
                    remote = manager_addr_list[worker_index % len(manager_addr_list)]
                    worker_index += 1
                    step = self.add("join", host.address, host.address, before,
                                    role="worker", remote=[remote],
                                    advertise_addr=host.advertise_address)  # fmt: skip
                    self.add_update(host, step, node=hostname, current=None)
            elif host.role == "manager" and not node.is_manager:
                step = self.promote(host, node, anchor, chain[-1:] + before)
                chain.append(step)
                self.total, self.reachable = self.total + 1, self.reachable + 1
                self.add_update(host, step, node=node.id, current=node)
            elif not (host.role == "worker" and node.is_manager):  # demotions: below
                self.batch_update(host, before[-1] if before else None, node=node.id, current=node)
        self.flush_batch("nodes")
        for host in self.inventory.present:
            node = by_host.get(host.address)
            if node is not None and host.role == "worker" and node.is_manager:
                self.check_demote(host, node)
                step = self.add("demote", anchor, host.address, chain[-1:], node=node.id)
                chain.append(step)
                self.add_update(host, step, node=node.id, current=node)
        for host in absent:
            if host not in lost:
                self.plan_removal(host, by_host.get(host.address), anchor, chain)

        for node in nodes.values():
            if self.is_ghost(node) and node.id not in claimed:
                # Shown on the anchor's row: the entry has no host of its own.
                self.add("remove", anchor, f"{anchor}#{node.id[:12]}", node=node.id, force=True)
                self.removed.append(node.id)
                claimed.add(node.id)
        self.warn_unmanaged(nodes, claimed, by_host)
        self.reconcile_settings(anchor, view)
        return Plan(
            steps=tuple(self.steps),
            anchor=anchor,
            cluster_id=cluster_id,
            expected=self.expected(),
            removed=tuple(self.removed),
            warnings=tuple(self.warnings),
        )

    @staticmethod
    def is_lost_manager(node: SwarmNode | None) -> bool:
        """A raft member the others no longer hear from (powered off, gone for good)."""
        return node is not None and node.is_manager and not node.reachable

    @staticmethod
    def is_ghost(node: SwarmNode) -> bool:
        """The entry of a join that never finished (its daemon died mid-join): the manager
        issued a certificate, the node never reported in - no hostname, never Ready. Its host
        joins again under a new id; the entry would stay Unknown forever."""
        return not node.hostname and not node.is_manager and node.state in ("unknown", "down")

    def promote(self, host: Host, node: SwarmNode, anchor: str, after: list[str]) -> str:
        """Promote, then verify the node became a Reachable manager (``verify-manager``).

        A promoted worker joins raft through the manager it first joined; if that one is gone
        its manager fails ("can't initialize raft node") and the node is in swarm state
        ``error``. The verify step then repairs it: the node leaves, its entry is removed, and
        it joins again as a manager through ``remote`` (live managers). Returns the verify
        step, which the next membership change waits for.
        """
        promote = self.add("promote", anchor, host.address, after, node=node.id)
        hostname = self.facts[host.address].hostname
        args: dict[str, Any] = {
            "node": node.id,
            "remote": [f"{self.inventory.host(anchor).advertise_address}:{SWARM_PORT}"],
            "advertise_addr": host.advertise_address,
        }
        labels = self.update_args(host, node=hostname, current=None)
        if labels is not None:
            args["then_update"] = labels  # a rejoined node starts without labels
        return self.add("verify-manager", host.address, host.address, [promote], **args)

    def node_of(self, host: Host, nodes: Mapping[str, SwarmNode]) -> SwarmNode | None:
        """The host's node in our swarm: by its own node id, else by address (unreachable)."""
        f = self.facts.get(host.address)
        if f is not None:
            if f.swarm_state == "active" and f.node_id in nodes:
                return nodes[f.node_id]
            return None
        matches = [n for n in nodes.values() if n.addr == host.advertise_address]
        return matches[0] if len(matches) == 1 else None

    def choose_anchor(
        self, by_host: Mapping[str, SwarmNode], nodes: Mapping[str, SwarmNode]
    ) -> str:
        """A reachable manager that stays a manager; the leader if it qualifies."""
        candidates = [
            h.address
            for h in self.inventory.managers
            if (n := by_host.get(h.address)) is not None and n.is_manager and n.reachable
        ]
        if not candidates:
            raise SwarmError(
                "none of the swarm's current managers stays a manager in the inventory; keep at "
                "least one of them (role: manager) while the managers change",
            )
        for address in candidates:
            if by_host[address].leader:
                return address
        return candidates[0]

    def leave_stale(self, host: Host) -> list[str]:
        """Leave half-joined state, or a membership our swarm no longer knows about."""
        f = self.facts[host.address]
        if f.swarm_state in ("pending", "error", "active"):
            return [self.add("leave", host.address, host.address, force=True)]
        return []

    def check_demote(self, host: Host, node: SwarmNode) -> None:
        """Track the raft membership along the chain; refuse a step that loses quorum."""
        self.total -= 1
        if node.reachability == "reachable":
            self.reachable -= 1
        total, reachable = self.total, self.reachable
        if total < 1 or reachable < quorum(total):
            raise QuorumError(
                f"demoting {host.address} would leave {reachable} reachable of {total} managers, "
                f"below quorum ({quorum(total)}); nothing was changed",
                hint="bring the unreachable managers back (or remove them first), then re-run",
            )

    def plan_removal(
        self, host: Host, node: SwarmNode | None, anchor: str, chain: list[str]
    ) -> None:
        f = self.facts.get(host.address)
        if node is None:
            if f and f.swarm_state in ("pending", "error"):
                self.add("leave", host.address, host.address, force=True)
            return
        if host.address == anchor:
            raise SwarmError(f"{host.address}: cannot remove the manager that runs the change")
        drain = (
            self.add("drain", anchor, host.address, node=node.id)
            if node.availability != "drain" and node.state != "down"
            else None
        )
        previous = [drain] if drain else []
        if node.is_manager:
            self.check_demote(host, node)
            step = self.add("demote", anchor, host.address, chain[-1:] + previous, node=node.id)
            chain.append(step)
            previous = [step]
        if f is not None and f.swarm_state == "active":
            previous = [self.add("leave", host.address, host.address, previous, force=False,
                                 was_manager=node.is_manager)]  # fmt: skip
        self.add("remove", anchor, host.address, previous, node=node.id, force=True)
        self.removed.append(node.id)

    def warn_unmanaged(
        self,
        nodes: Mapping[str, SwarmNode],
        claimed: set[str],
        by_host: Mapping[str, SwarmNode],
    ) -> None:
        ours = claimed | {n.id for n in by_host.values()}
        for node in nodes.values():
            if node.id not in ours:
                self.warnings.append(
                    f"node {node.hostname} ({node.id[:12]}, {node.role}, {node.state}) is in the "
                    "swarm but not in the inventory; left alone (list it with state: absent to "
                    "remove it)"
                )

    def reconcile_settings(self, anchor: str, view: HostFacts) -> None:
        settings = view.cluster_settings
        if not settings:
            return
        args: dict[str, Any] = {}
        if settings.get("cert_expiry_hours") not in (None, self.spec.cert_expiry_hours):
            args["cert_expiry_hours"] = self.spec.cert_expiry_hours
        if settings.get("autolock") != self.spec.autolock:
            args["autolock"] = self.spec.autolock
        if args:
            self.add("swarm-update", anchor, "cluster", **args)
        fixed = {
            "default_addr_pool": list(self.spec.default_addr_pool),
            "default_addr_pool_mask_length": self.spec.default_addr_pool_mask_length,
            "data_path_port": self.spec.data_path_port,
        }
        for key, wanted in fixed.items():
            have = settings.get(key)
            if have not in (None, [], wanted):
                self.warnings.append(
                    f"{key} is {have} in the running swarm, the spec asks for {wanted}; it is "
                    "fixed when a swarm is created and was left as it is"
                )

    def expected(self) -> tuple[ExpectedNode, ...]:
        return tuple(
            ExpectedNode(h.address, self.facts[h.address].hostname, h.role)
            for h in self.inventory.present
        )


def plan_swarm(spec: ClusterSpec, inventory: Inventory, facts: Mapping[str, HostFacts]) -> Plan:
    """The steps that take the hosts from ``facts`` to what ``inventory`` and ``spec`` ask for.

    ``facts`` holds every present host (and the absent hosts that could be reached). Update
    steps with an empty ``host`` run on the plan's anchor.
    """
    plan = _Planner(spec, inventory, facts).plan()
    steps = tuple(
        Step(s.id, s.action, s.host or plan.anchor, s.target, s.args, s.after) for s in plan.steps
    )
    return Plan(steps, plan.anchor, plan.cluster_id, plan.expected, plan.removed, plan.warnings)


@dataclass(frozen=True)
class PrepStep:
    action: str  # start-docker, tune
    host: str
    args: dict[str, Any] = field(default_factory=dict)


def plan_preparation(
    inventory: Inventory, facts: Mapping[str, HostFacts], tuning: Mapping[str, str]
) -> tuple[PrepStep, ...]:
    """Before the swarm: host tuning whose digest differs, a stopped docker daemon started.

    ``tuning`` maps a host address to the digest of the tuning script it should have had
    applied (empty when there is no tuning to apply). A host cloud-init tuned for its cloud
    is tuned: its tuning is the cloud's (a stack update changes it), never the SSH form's.
    """
    steps: list[PrepStep] = []
    for host in inventory.present:
        f = facts[host.address]
        digest = tuning.get(host.address, "")
        if digest and f.tuning_digest != digest and not f.tuned_by_cloud_init:
            steps.append(PrepStep("tune", host.address, {"digest": digest}))
        if f.docker_installed and not f.docker_running and not f.facts_error:
            steps.append(PrepStep("start-docker", host.address))
    return tuple(steps)
