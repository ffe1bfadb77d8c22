"""Fake Engine APIs for the node agent's tests (unit and service), in place of dockerd's:

- FakeEngine: a manager's, whose swarm has the given nodes and publishes the given ports in
  ingress mode; it records the node updates and removals it is asked for;
- SwarmEngine: one node's, in the boot loop; the nodes of a test share one ``swarm`` dict
  (its id, init options and every node's role), so inits and joins see each other.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from swarmstack.provisioners.nodeagent import decisions as d


class FakeEngine:
    def __init__(self, nodes: list[d.SwarmNode] | None = None, ports: list[int] = []) -> None:  # noqa: B006
        self.swarm_nodes = {node.id: node for node in nodes or []}
        self.calls: list[str] = []
        self.ports = list(ports)

    def local_swarm(self) -> d.LocalSwarm:
        return d.LocalSwarm("inactive")

    def nodes(self) -> list[d.SwarmNode]:
        return list(self.swarm_nodes.values())

    def update_node(self, node_id: str, **changes: Any) -> None:
        self.calls.append(f"update {node_id} {changes}")
        node = self.swarm_nodes[node_id]
        self.swarm_nodes[node_id] = replace(
            node,
            availability=changes.get("Availability", node.availability),
            role=changes.get("Role", node.role),
        )

    def running_tasks(self, node_id: str) -> int:
        return 0

    def remove_node(self, node_id: str) -> None:
        self.calls.append(f"remove {node_id}")
        del self.swarm_nodes[node_id]

    def services(self) -> list[dict[str, Any]]:
        ports = [
            {"PublishedPort": p, "Protocol": "tcp", "PublishMode": "ingress"} for p in self.ports
        ]
        return [{"Endpoint": {"Ports": [port]}} for port in ports]


class SwarmEngine:
    def __init__(self, node_id: str, swarm: dict[str, Any]) -> None:
        self.node_id = node_id
        self.swarm = swarm
        self.state = "inactive"
        self.joined_with: tuple[tuple[str, ...], str] | None = None

    def local_swarm(self) -> d.LocalSwarm:
        manager = self.swarm.get("roles", {}).get(self.node_id) == "manager"
        cluster = self.swarm.get("id", "") if self.state == "active" else ""
        return d.LocalSwarm(self.state, self.node_id, manager, cluster)

    def init(self, address: str, options: dict[str, Any]) -> None:
        self.swarm.update(id="cluster-1", roles={self.node_id: "manager"}, options=options)
        self.state = "active"

    def join_tokens(self) -> dict[str, str]:
        return {"worker": "SWMTKN-1-w", "manager": "SWMTKN-1-m"}

    def join(self, address: str, managers: tuple[str, ...], token: str) -> None:
        self.joined_with = (managers, token)
        self.swarm["roles"][self.node_id] = "manager" if token.endswith("-m") else "worker"
        self.state = "active"

    def nodes(self) -> list[d.SwarmNode]:
        return [
            d.SwarmNode(
                n, 1, role, "ready", "active", "", {}, "reachable" if role == "manager" else ""
            )
            for n, role in self.swarm["roles"].items()
        ]
