"""After a promotion the node must be a Reachable manager; one in swarm state error is
rejoined as a manager through a live one at once (no SSH: run_command is replaced)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from swarmstack.errors import QuorumLost, SwarmError
from swarmstack.provisioners import bootstrap, commands
from swarmstack.provisioners.facts import HostFacts
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.progress import NullProgress
from swarmstack.provisioners.ssh import CommandResult
from swarmstack.spec import ClusterSpec

from .test_swarm_plans import host_facts, plan_case

CASE = json.loads(
    (Path(__file__).parent / "swarm_plans" / "leader_lost_worker_promoted.json").read_text()
)
ERROR = "error false manager stopped: can't initialize raft node: dial tcp 198.18.0.11:2377"


class ScriptedHosts:
    """Answers each command by its output kind; records (host, command text, stdin)."""

    def __init__(self, manager_states: list[str]) -> None:
        self.manager_states = manager_states
        self.ran: list[tuple[str, str, str]] = []

    def __call__(
        self, _run: bootstrap._Run, address: str, command: commands.HostCommand, stdin: str | None
    ) -> CommandResult:
        self.ran.append((address, command.run, stdin or ""))
        out = ""
        if command.output == commands.OUTPUT_MANAGER_STATE:
            out = self.manager_states.pop(0) + "\n"
        elif command.output == commands.OUTPUT_NODE_ID:
            out = "newid\n"
        elif command.output == commands.OUTPUT_JOIN_TOKEN:
            out = "SWMTKN-1-test-manager\n"
        return CommandResult(command.run, 0, out, "", 0.0)


Answer = Callable[[bootstrap._Run, str, commands.HostCommand, str | None], CommandResult]


def answer_commands_with(monkeypatch: pytest.MonkeyPatch, hosts: Answer) -> None:
    """Every host command the executor runs is answered by ``hosts`` (no SSH)."""

    def run_command(
        self: bootstrap._Run,
        address: str,
        command: commands.HostCommand,
        stdin: str | None = None,
        what: str = "",
    ) -> CommandResult:
        return hosts(self, address, command, stdin)

    monkeypatch.setattr(bootstrap._Run, "run_command", run_command)


def run_plan(monkeypatch: pytest.MonkeyPatch, hosts: ScriptedHosts) -> bootstrap._Run:
    answer_commands_with(monkeypatch, hosts)
    plan = plan_case(CASE)
    inventory = inventory_from_data(CASE["inventory"], base=Path("/"))
    run = bootstrap._Run(ClusterSpec.model_validate({}), inventory, NullProgress(), 8, None)
    try:
        run.execute(plan)
    finally:
        run.close()
    return run


def test_a_reachable_promoted_manager_needs_no_repair(monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = ScriptedHosts(["reachable"])
    run_plan(monkeypatch, hosts)
    texts = [text for _, text, _ in hosts.ran]
    assert "docker swarm leave --force" not in texts
    demote = next(i for i, t in enumerate(texts) if "docker node demote idm1" in t)
    promote = next(i for i, t in enumerate(texts) if "docker node promote idw1" in t)
    assert demote < promote, "the lost leader leaves raft first"


def test_a_promoted_node_in_error_rejoins_as_a_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = ScriptedHosts([ERROR, "reachable"])
    run = run_plan(monkeypatch, hosts)
    on_node = [(text, stdin) for address, text, stdin in hosts.ran if address == "198.18.0.14"]
    assert on_node[1][0] == "docker swarm leave --force"
    join, body = next((t, s) for t, s in on_node if "/swarm/join" in t)
    assert '"RemoteAddrs": ["198.18.0.13:2377"]' in body, "rejoins through the anchor"
    assert "SWMTKN" not in join, "the token travels in the request body on stdin only"
    verify = next(s for s in plan_case(CASE).steps if s.action == "verify-manager")
    (where, remove_entry) = commands.rejoin_manager(verify)[1]
    assert where == commands.ON_ANCHOR
    assert ("198.18.0.13", remove_entry.run, "") in hosts.ran, "the broken entry is removed"
    # The labels after the repair name the node by its new id.
    assert any("newid" in text for address, text, _ in hosts.ran if address == "198.18.0.13")
    assert run.node_ids["198.18.0.14"] == "newid"


def test_a_node_still_broken_after_the_repair_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts = ScriptedHosts([ERROR, ERROR])
    with pytest.raises(SwarmError) as caught:
        run_plan(monkeypatch, hosts)
    first = caught.value.problems[0]
    assert "198.18.0.14" in first
    assert "still not a reachable manager" in first
    assert "tcp 2377" in (caught.value.hint or "")
    labelled = [t for a, t, _ in hosts.ran if a == "198.18.0.13" and "docker node update" in t]
    assert labelled == [], "nothing runs after the failed repair"


def test_no_leader_for_a_moment_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after two managers restart, raft has no leader for a few seconds."""
    facts = {a: host_facts(f) for a, f in CASE["facts"].items()}
    leaderless = {
        a: HostFacts(**{**f.__dict__, "nodes": None, "nodes_error": "no leader"})
        if f.is_manager
        else f
        for a, f in facts.items()
    }
    reads: list[str] = []

    def read_facts(self: bootstrap._Run, address: str) -> HostFacts:
        reads.append(address)
        return facts[address]

    monkeypatch.setattr(bootstrap._Run, "read_facts", read_facts)
    monkeypatch.setattr(bootstrap, "LEADER_POLL", 0.01)
    inventory = inventory_from_data(CASE["inventory"], base=Path("/"))
    run = bootstrap._Run(ClusterSpec.model_validate({}), inventory, NullProgress(), 8, None)
    try:
        plan = run.plan_once_raft_settles(dict(leaderless))
        assert plan.steps
        assert sorted(reads) == ["198.18.0.12", "198.18.0.13"]
        monkeypatch.setattr(bootstrap, "LEADER_WAIT", 0.0)
        monkeypatch.setattr(bootstrap._Run, "read_facts", lambda self, a: leaderless[a])
        with pytest.raises(QuorumLost):
            run.plan_once_raft_settles(dict(leaderless))
    finally:
        run.close()
