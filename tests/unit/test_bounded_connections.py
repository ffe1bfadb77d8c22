"""converge() keeps few SSH connections open: a host's connection stays open after its facts
only while the run needs it and at most --max-parallel are kept; any other host is connected
again when a step needs it. Each open paramiko connection has a thread, so this is what keeps a
1000-host run from holding 1000 threads.

The hosts are fakes (one FakeConnection per connect, counted by a FakeConnector) that answer
the commands converge sends as docker on a formed swarm would: facts, join tokens, joins, node
label updates and the node list of the Ready poll.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from swarmstack.errors import RemoteCommandFailed
from swarmstack.provisioners import bootstrap, commands, outcome
from swarmstack.provisioners.connections import HostConnections
from swarmstack.provisioners.inventory import Inventory, inventory_from_data
from swarmstack.provisioners.ssh import CommandRecord, CommandResult
from swarmstack.spec import ClusterSpec

SPEC = ClusterSpec.model_validate({})
MANAGER = "198.18.1.1"
TOKEN = "SWMTKN-1-" + "a" * 50 + "-" + "b" * 25


def worker_addresses(count: int) -> list[str]:
    return [f"198.18.2.{i + 1}" for i in range(count)]


class FakeSwarm:
    """Docker on every host of a formed swarm: MANAGER leads it; ``joined`` workers are in it,
    the other workers of the inventory are not yet (each one's join adds it)."""

    def __init__(self, joined: list[str]) -> None:
        self.members = {MANAGER: "manager", **dict.fromkeys(joined, "worker")}
        self.lock = threading.Lock()
        self.joins: list[str] = []

    def node(self, address: str) -> dict[str, Any]:
        role = self.members[address]
        availability = "active" if role == "worker" or SPEC.managers_accept_workloads else "drain"
        node: dict[str, Any] = {
            "ID": f"id-{address}",
            "Description": {"Hostname": f"h-{address}"},
            "Spec": {"Role": role, "Availability": availability,
                     "Labels": {"swarmstack.role": role}},
            "Status": {"State": "ready", "Addr": address},
        }  # fmt: skip
        if role == "manager":
            node["ManagerStatus"] = {"Leader": True, "Reachability": "reachable"}
        return node

    def facts(self, address: str) -> str:
        with self.lock:
            member = address in self.members
            swarm: dict[str, Any] = {"LocalNodeState": "active" if member else "inactive"}
            if member:
                manager = {"NodeID": f"id-{MANAGER}", "Addr": f"{MANAGER}:2377"}
                swarm.update(NodeID=f"id-{address}", NodeAddr=address, RemoteManagers=[manager])
            if address == MANAGER:
                swarm.update(ControlAvailable=True, Cluster={"ID": "cluster1"})
            info = {"Name": f"h-{address}", "ServerVersion": "27.0.0", "Swarm": swarm}
            text = f"@@hostname\nh-{address}\n@@tuning\n@@info\n{json.dumps(info)}\n"
            if address == MANAGER:
                text += "@@nodes\n" + json.dumps([self.node(a) for a in self.members]) + "\n"
            return text

    def answer(self, address: str, command: str, stdin: str | None) -> tuple[int, str]:
        if command == commands.read_facts().run:
            return 0, self.facts(address)
        if "/swarm/join" in command:
            assert TOKEN in (stdin or "")  # the token reached the join
            with self.lock:
                self.members[address] = "worker"
                self.joins.append(address)
            return 0, f"id-{address}\n"
        if address == MANAGER and "join-token" in command:
            return 0, TOKEN + "\n"
        if address == MANAGER and command == commands.list_nodes().run:
            with self.lock:
                return 0, json.dumps([self.node(a) for a in self.members]) + "\n"
        if address == MANAGER and ("node update" in command or "/update" in command):
            return 0, ""
        return 127, f"the fake does not know this command on {address}"


@dataclass
class FakeConnection:
    address: str
    swarm: FakeSwarm
    connector: FakeConnector
    history: list[CommandRecord] = field(default_factory=list)
    closed: bool = False

    def run(self, command: str, *, stdin: str | None = None, **options: Any) -> CommandResult:
        assert not self.closed, f"{self.address}: a command on a closed connection"
        status, out = self.swarm.answer(self.address, command, stdin)
        self.history.append(CommandRecord(self.address, command, False, status, 0.0))
        return CommandResult(command, status, out, "" if status == 0 else out, 0.0)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.connector.closed()


class FakeConnector:
    """Stands in for ssh.Connector: counts connections made per host and open at once."""

    def __init__(self, swarm: FakeSwarm) -> None:
        self.swarm = swarm
        self.connect_window = 10.0
        self.lock = threading.Lock()
        self.connects: dict[str, int] = {}
        self.open = self.peak = 0

    def connect(self, address: str, port: int | None = None, **_: Any) -> FakeConnection:
        with self.lock:
            self.connects[address] = self.connects.get(address, 0) + 1
            self.open += 1
            self.peak = max(self.peak, self.open)
        return FakeConnection(address, self.swarm, self)

    def closed(self) -> None:
        with self.lock:
            self.open -= 1

    def close(self) -> None:
        pass


def inventory(workers: list[str]) -> Inventory:
    hosts = [{"address": MANAGER, "role": "manager"}]
    hosts += [{"address": w, "role": "worker"} for w in workers]
    return inventory_from_data({"hosts": hosts}, base=Path("/"))


def converge_fakes(
    monkeypatch: pytest.MonkeyPatch, workers: int, joined: int, max_parallel: int, **kw: Any
) -> tuple[outcome.BootstrapResult, FakeSwarm, FakeConnector]:
    addresses = worker_addresses(workers)
    swarm = FakeSwarm(addresses[:joined])
    connector = FakeConnector(swarm)
    monkeypatch.setattr(bootstrap, "Connector", lambda settings, **_: connector)
    result = bootstrap.converge(
        SPEC, inventory(addresses), max_parallel=max_parallel, apply_host_tuning=False,
        ready_timeout=10, **kw,
    )  # fmt: skip
    return result, swarm, connector


def test_a_large_run_keeps_at_most_the_budget_open_and_reconnects_hosts_with_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 60 hosts, 4 at a time: 12 workers still to join - more than the 4 connections kept.
    result, swarm, connector = converge_fakes(monkeypatch, workers=59, joined=47, max_parallel=4)
    to_join = worker_addresses(59)[47:]
    assert sorted(swarm.joins) == sorted(to_join)  # every step ran ...
    assert result.changed
    assert len(result.nodes) == 60
    assert all(n.state == "ready" for n in result.nodes)
    # ... though open connections never exceeded 4 kept + 1 per thread using one.
    assert connector.peak <= 2 * 4
    reconnected = [a for a in to_join if connector.connects[a] == 2]
    assert reconnected  # hosts whose connection had been closed were connected again
    assert all(connector.connects[a] <= 2 for a in to_join)
    # Workers with nothing to do were connected once (facts), the anchor once for the run.
    assert all(connector.connects[a] == 1 for a in worker_addresses(47))
    assert connector.connects[MANAGER] == 1
    assert connector.open == 0  # all closed at the end
    ran = {(c.address, c.command) for c in result.commands}
    assert all((a, commands.read_facts().run) in ran for a in to_join)


def test_a_small_swarm_never_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    # As many hosts as --max-parallel: every connection made once, kept for the whole run.
    result, swarm, connector = converge_fakes(monkeypatch, workers=5, joined=2, max_parallel=6)
    assert sorted(swarm.joins) == worker_addresses(5)[2:]
    assert connector.connects == dict.fromkeys([MANAGER, *worker_addresses(5)], 1)
    assert result.changed
    assert connector.open == 0


def test_a_plan_closes_each_connection_after_its_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    result, swarm, connector = converge_fakes(
        monkeypatch, workers=59, joined=40, max_parallel=4, dry_run=True
    )
    assert connector.peak <= 4  # only the connections of the facts being read
    assert set(connector.connects.values()) == {1}
    assert swarm.joins == []
    assert result.dry_run
    assert sum(1 for s in result.plan.steps if s.action == "join") == 19


def test_a_formed_swarm_closes_workers_without_steps_right_after_their_facts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, _, connector = converge_fakes(monkeypatch, workers=59, joined=59, max_parallel=4)
    assert not result.changed
    assert connector.peak <= 4 + 1  # the reads in flight and the anchor
    assert set(connector.connects.values()) == {1}


def test_no_connection_is_made_once_the_run_stops() -> None:
    made: list[FakeConnection] = []

    def connect(address: str) -> Any:
        made.append(FakeConnection(address, FakeSwarm([]), FakeConnector(FakeSwarm([]))))
        return made[-1]

    hosts = HostConnections(connect, keep=2)
    with hosts.use(MANAGER):
        hosts.close_all()  # Ctrl-C while a command runs: its connection is closed at once
        assert made[0].closed
    with pytest.raises(RemoteCommandFailed, match="the run is stopping"), hosts.use("198.18.2.1"):
        pass
    assert [c.address for c in made] == [MANAGER]
