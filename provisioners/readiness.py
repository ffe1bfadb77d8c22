"""The end of a run: waiting until every node the plan expects is Ready, and the node table.

A manager counts once raft hears from it, a removed node once it is no longer listed; the
error that ends a wait names each node still missing and whether the managers hold quorum.
"""

from __future__ import annotations

import time

from ..contract import DEFAULT_DATA_PATH_PORT, GOSSIP_PORT, SWARM_PORT, quorum
from ..errors import SwarmError
from . import commands
from .facts import SwarmNode, parse_node_lines
from .outcome import NodeStatus
from .ssh import Connection
from .swarm import Plan

SWARM_PORTS = (  # what hosts of a swarm must reach on each other, for error hints
    f"tcp {SWARM_PORT}, tcp and udp {GOSSIP_PORT}, udp {DEFAULT_DATA_PATH_PORT} or the spec's "
    "data_path_port"
)


def poll_ready(anchor: Connection, plan: Plan, timeout: float) -> tuple[NodeStatus, ...]:
    """Read the node list on the anchor until every node the plan expects is Ready in it."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        result = anchor.run(commands.list_nodes().run, check=False)
        nodes: tuple[SwarmNode, ...] = ()
        if result.exit_status == 0:
            try:
                nodes = parse_node_lines(result.stdout.splitlines())
            except ValueError:
                nodes = ()
        missing = not_ready(plan, nodes)
        if nodes and not missing:
            return node_table(plan, nodes)
        if time.monotonic() + delay > deadline:
            detail = "; ".join(missing) or result.stderr.strip() or "no node list"
            raise SwarmError(
                f"nodes not Ready after {timeout:.0f}s: {detail}{_manager_summary(nodes)}",
                hint="the steps are done; check those hosts' docker (`docker info`) and "
                f"the network between the hosts ({SWARM_PORTS}), then re-run",
            )
        time.sleep(delay)
        delay = min(0.5, delay * 1.5)


def not_ready(plan: Plan, nodes: tuple[SwarmNode, ...]) -> list[str]:
    """What keeps the swarm from being as planned, one line per node (empty: it is)."""
    problems = []
    by_name: dict[str, list[SwarmNode]] = {}
    for node in nodes:
        by_name.setdefault(node.hostname, []).append(node)
    for expected in plan.expected:
        candidates = by_name.get(expected.hostname, [])
        # A manager counts once raft hears from it (Leader or Reachable), not before.
        if not any(
            n.ready and n.role == expected.role and (n.reachable or not n.is_manager)
            for n in candidates
        ):
            state = ", ".join(_node_state(n) for n in candidates) or "not in the swarm"
            problems.append(f"{expected.hostname} ({expected.address}): {state}")
    removed = set(plan.removed)
    problems.extend(f"{n.hostname}: still listed" for n in nodes if n.id in removed)
    return problems


def node_table(plan: Plan, nodes: tuple[SwarmNode, ...]) -> tuple[NodeStatus, ...]:
    """The nodes as the run reports them, in the inventory's order."""
    address_of = {e.hostname: e.address for e in plan.expected}
    rows = []
    for node in nodes:
        rows.append(
            NodeStatus(
                address=address_of.get(node.hostname, ""),
                hostname=node.hostname,
                role=node.role,
                state=node.state,
                availability=node.availability,
            )
        )
    order = {e.address: i for i, e in enumerate(plan.expected)}
    return tuple(sorted(rows, key=lambda r: (order.get(r.address, len(order)), r.hostname)))


def _node_state(node: SwarmNode) -> str:
    reachability = f" {node.reachability}" if node.is_manager and node.reachability else ""
    return f"{node.role} {node.state}{reachability}"


def _manager_summary(nodes: tuple[SwarmNode, ...]) -> str:
    """The swarm's raft state in a few words, for the error that ends a run."""
    managers = [n for n in nodes if n.is_manager]
    if not managers:
        return ""
    reachable = sum(1 for n in managers if n.reachable)
    holds = "quorum holds" if reachable >= quorum(len(managers)) else "quorum is LOST"
    return f" ({reachable} of {len(managers)} managers reachable, {holds})"
