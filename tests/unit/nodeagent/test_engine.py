"""The agent's Engine API client against a fake dockerd on a unix socket."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from swarmstack.provisioners.nodeagent.engine import Engine, EngineError

NODE = {
    "ID": "n1",
    "Version": {"Index": 7},
    "Spec": {"Role": "worker", "Availability": "active", "Labels": {"team": "x"}},
    "Status": {"State": "ready", "Addr": "10.0.2.7"},
}
MANAGER = {
    "ID": "m1",
    "Version": {"Index": 3},
    "Spec": {"Role": "manager", "Availability": "active"},
    "Status": {"State": "ready", "Addr": "0.0.0.0"},  # noqa: S104 - how dockerd reports it
    "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "10.0.1.5:2377"},
}


INFO = {
    "LocalNodeState": "active",
    "NodeID": "m1",
    "ControlAvailable": True,
    "Cluster": {"ID": "c1"},
}


class FakeDocker(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str, Any]]] = []

    def _reply(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, body))

    def do_GET(self) -> None:
        self._record()
        if self.path == "/info":
            self._reply(200, {"Swarm": INFO})
        elif self.path == "/nodes":
            self._reply(200, [NODE, MANAGER])
        elif self.path == "/nodes/n1":
            self._reply(200, NODE)
        else:
            self._reply(404, {"message": "page not found"})

    def do_POST(self) -> None:
        self._record()
        if self.path == "/swarm/join" or self.path.startswith("/nodes/n1/update"):
            self._reply(200)
        else:
            self._reply(503, {"message": "This node is not a swarm manager."})

    def do_DELETE(self) -> None:
        self._record()
        self._reply(404, {"message": "node gone not found"})

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


Docker = tuple[Engine, list[tuple[str, str, Any]]]


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[Docker]:
    """An Engine on a fake dockerd's socket, and the requests that dockerd received."""
    requests: list[tuple[str, str, Any]] = []
    handler = type("Docker", (FakeDocker,), {"requests": requests})
    path = str(tmp_path / "docker.sock")
    server = _Server(path, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Engine(path, timeout=5), requests
    server.shutdown()
    server.server_close()


def test_the_join_token_travels_in_the_request_body(docker: Docker) -> None:
    engine, requests = docker
    engine.join("10.0.2.9", ("10.0.1.5:2377",), "SWMTKN-1-secret")
    [(method, path, body)] = requests
    assert (method, path) == ("POST", "/swarm/join")
    assert body == {
        "ListenAddr": "10.0.2.9:2377",  # bound to the private address only
        "AdvertiseAddr": "10.0.2.9",
        "RemoteAddrs": ["10.0.1.5:2377"],
        "JoinToken": "SWMTKN-1-secret",
    }


def test_nodes_and_the_local_swarm_are_read(docker: Docker) -> None:
    engine, _ = docker
    local = engine.local_swarm()
    assert (local.state, local.node_id, local.is_manager, local.cluster_id) == (
        "active", "m1", True, "c1",
    )  # fmt: skip
    worker, manager = engine.nodes()
    assert (worker.address, worker.labels, worker.version) == ("10.0.2.7", {"team": "x"}, 7)
    assert (manager.address, manager.leader, manager.reachability) == (
        "10.0.1.5", True, "reachable",
    )  # fmt: skip


def test_a_node_update_keeps_the_rest_of_its_spec(docker: Docker) -> None:
    engine, requests = docker
    engine.update_node("n1", Availability="drain")
    method, path, body = requests[-1]
    assert (method, path) == ("POST", "/nodes/n1/update?version=7")
    assert body == {"Role": "worker", "Availability": "drain", "Labels": {"team": "x"}}


def test_removing_a_node_that_is_gone_is_fine_other_errors_are_raised(docker: Docker) -> None:
    engine, _ = docker
    engine.remove_node("gone")
    with pytest.raises(EngineError, match="not a swarm manager") as raised:
        engine.init("10.0.1.5", {})
    assert raised.value.status == 503
