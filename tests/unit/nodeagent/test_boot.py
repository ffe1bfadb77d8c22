"""The boot loop with an in-memory cloud and engine: who inits, who joins, what is stored."""

from __future__ import annotations

from typing import Any, cast

import pytest

from swarmstack.provisioners.nodeagent import decisions as d
from swarmstack.provisioners.nodeagent.aws import Cloud
from swarmstack.provisioners.nodeagent.engine import Engine
from swarmstack.provisioners.nodeagent.main import AgentError, Booter, Settings

from ...fake_engines import SwarmEngine


class MemoryCloud:
    """The SSM store and the stack signal, in memory (create-if-absent like PutParameter)."""

    def __init__(self) -> None:
        self.parameters: dict[tuple[str, str, int], Any] = {}
        self.signals: list[tuple[str, str]] = []

    def leases(self, name: str) -> list[d.Lease]:
        return [v for (kind, n, _), v in self.parameters.items() if kind == "lease" and n == name]

    def create_lease(self, name: str, lease: d.Lease) -> bool:
        key = ("lease", name, lease.generation)
        if key in self.parameters:
            return False
        self.parameters[key] = lease
        return True

    def renew_lease(self, name: str, lease: d.Lease) -> None:
        self.parameters[("lease", name, lease.generation)] = lease

    def swarm_record(self) -> d.SwarmRecord | None:
        return cast(d.SwarmRecord | None, self.parameters.get(("record", "", 0)))

    def put_swarm_record(self, record: d.SwarmRecord) -> None:
        self.parameters[("record", "", 0)] = record

    def put_tokens(self, tokens: dict[str, str]) -> None:
        for role, token in tokens.items():
            self.parameters[("token", role, 0)] = token

    def token(self, role: str) -> str:
        return cast(str, self.parameters[("token", role, 0)])

    def signal_ready(self, role: str, instance_id: str) -> None:
        self.signals.append((role, instance_id))


def node(instance: str, role: str, cloud: MemoryCloud, swarm: dict[str, Any]) -> Booter:
    me = d.NodeIdentity(
        instance, "prod", role, "us-east-1a", "us-east-1", f"10.0.0.{len(instance)}"
    )
    engine = SwarmEngine(f"node-{instance}", swarm)
    return Booter(
        me, cast(Engine, engine), cast(Cloud, cloud), Settings(init={"DataPathPort": 4790}),
        clock=lambda: 1000.0, sleep=lambda seconds: None,
    )  # fmt: skip


def test_the_first_manager_inits_and_stores_tokens_then_the_others_join() -> None:
    cloud, swarm = MemoryCloud(), dict[str, Any]()
    first = node("i-1", "manager", cloud, swarm)
    first.run()
    assert swarm["options"] == {"DataPathPort": 4790}  # the spec's init options
    assert cloud.token("manager") == "SWMTKN-1-m"
    record = cloud.swarm_record()
    assert record is not None
    assert record.cluster_id == "cluster-1"
    [init_lease] = cloud.leases("init")
    assert init_lease.released  # done: nothing left for a takeover

    second, worker = node("i-22", "manager", cloud, swarm), node("i-333", "worker", cloud, swarm)
    second.run()
    worker.run()
    engines = [cast(SwarmEngine, b.engine) for b in (second, worker)]
    assert [e.joined_with for e in engines] == [
        (record.managers, "SWMTKN-1-m"),
        (record.managers, "SWMTKN-1-w"),
    ]
    [join_lease] = cloud.leases("manager-join")
    assert join_lease.released
    assert join_lease.holder == "i-22"
    assert cloud.signals == [("manager", "i-1"), ("manager", "i-22"), ("worker", "i-333")]


def test_a_worker_waits_for_the_swarm_and_gives_up_after_an_hour() -> None:
    cloud, now = MemoryCloud(), [0.0]
    worker = node("i-1", "worker", cloud, {})
    worker.clock = lambda: now[0]

    def sleep(seconds: float) -> None:
        now[0] += 600

    worker.sleep = sleep
    with pytest.raises(AgentError, match="within an hour"):
        worker.run()
    assert cloud.signals == []
