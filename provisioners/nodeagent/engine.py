"""The local Docker Engine API on its unix socket: the node agent's only way to drive swarm.

Tokens travel in request bodies over the socket, never in a command line or environment.
The /swarm/init and /swarm/join bodies come from swarmstack.provisioners.swarmapi, which the
SSH bootstrap's host commands use too.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

from ...contract import DOCKER_SOCKET
from ..swarmapi import init_body, join_body
from .decisions import LocalSwarm, SwarmNode


class EngineError(Exception):
    """The engine answered with an error status (the message is the engine's, no secrets)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"docker engine: {status} {message}")
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class Engine:
    def __init__(self, path: str = DOCKER_SOCKET, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout

    def request(self, method: str, url: str, body: Any = None) -> Any:
        connection = _UnixConnection(self.path, self.timeout)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, url, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status >= 400:
            try:
                message = json.loads(data).get("message", "")
            except ValueError:
                message = data[:200].decode(errors="replace")
            raise EngineError(response.status, message)
        return json.loads(data) if data.strip() else None

    # --- this node ---------------------------------------------------------------------------

    def local_swarm(self) -> LocalSwarm:
        swarm = self.request("GET", "/info").get("Swarm") or {}
        return LocalSwarm(
            state=str(swarm.get("LocalNodeState") or "inactive"),
            node_id=str(swarm.get("NodeID") or ""),
            is_manager=bool(swarm.get("ControlAvailable")),
            cluster_id=str((swarm.get("Cluster") or {}).get("ID") or ""),
        )

    def init(self, address: str, options: dict[str, Any]) -> None:
        self.request("POST", "/swarm/init", init_body(address, options))

    def join_tokens(self) -> dict[str, str]:
        tokens = self.request("GET", "/swarm")["JoinTokens"]
        return {"worker": tokens["Worker"], "manager": tokens["Manager"]}

    def join(self, address: str, managers: tuple[str, ...], token: str) -> None:
        self.request("POST", "/swarm/join", join_body(address, managers, token))

    # --- the cluster (managers only) -----------------------------------------------------

    def nodes(self) -> list[SwarmNode]:
        return [_node(item) for item in self.request("GET", "/nodes")]

    def node_spec(self, node_id: str) -> tuple[int, dict[str, Any]]:
        item = self.request("GET", f"/nodes/{node_id}")
        return int(item["Version"]["Index"]), dict(item["Spec"])

    def update_node(self, node_id: str, **changes: Any) -> None:
        """Change Labels, Role or Availability; the rest of the node's spec is kept."""
        version, spec = self.node_spec(node_id)
        spec.update(changes)
        self.request("POST", f"/nodes/{node_id}/update?version={version}", spec)

    def remove_node(self, node_id: str) -> None:
        try:
            self.request("DELETE", f"/nodes/{node_id}?force=true")
        except EngineError as error:
            if error.status != 404:
                raise

    def running_tasks(self, node_id: str) -> int:
        filters = json.dumps({"node": [node_id], "desired-state": ["running"]})
        return len(self.request("GET", f"/tasks?filters={quote(filters)}"))

    def services(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/services"))


def _node(item: dict[str, Any]) -> SwarmNode:
    spec = item.get("Spec") or {}
    status = item.get("Status") or {}
    manager = item.get("ManagerStatus") or {}
    address = str(status.get("Addr") or "")
    if address in ("", "0.0.0.0") and manager.get("Addr"):  # noqa: S104 - not a bind
        address = str(manager["Addr"]).rsplit(":", 1)[0]
    return SwarmNode(
        id=str(item["ID"]),
        version=int((item.get("Version") or {}).get("Index", 0)),
        role=str(spec.get("Role") or "worker"),
        state=str(status.get("State") or "unknown"),
        availability=str(spec.get("Availability") or "active"),
        address=address,
        labels=dict(spec.get("Labels") or {}),
        reachability=str(manager.get("Reachability") or ""),
        leader=bool(manager.get("Leader")),
    )
