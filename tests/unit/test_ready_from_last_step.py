"""The last step of a new swarm (the last manager's labels, on the anchor) also reads the node
list; when every node is Ready in it, the wait for Ready needs no round trip of its own
(no SSH here: run_command and the anchor's connection are replaced)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmstack.provisioners import bootstrap, commands
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.progress import NullProgress
from swarmstack.provisioners.ssh import CommandResult
from swarmstack.spec import ClusterSpec

from .test_manager_repair import answer_commands_with
from .test_swarm_plans import plan_case

CASE = json.loads((Path(__file__).parent / "swarm_plans" / "new_swarm_3_2.json").read_text())
HOSTS = {"m1": "manager", "m2": "manager", "m3": "manager", "w1": "worker", "w2": "worker"}


def api_nodes(states: dict[str, str]) -> str:
    """GET /nodes as the Engine API answers it: one JSON array on one line."""
    nodes: list[dict[str, Any]] = []
    for name, role in HOSTS.items():
        node: dict[str, Any] = {
            "ID": f"id-{name}",
            "Spec": {"Labels": {}, "Role": role, "Availability": "active"},
            "Description": {"Hostname": name},
            "Status": {"State": states.get(name, "ready")},
        }
        if role == "manager":
            node["ManagerStatus"] = {"Leader": name == "m1", "Reachability": "reachable"}
        nodes.append(node)
    return json.dumps(nodes) + "\n"


class Anchor:
    """The anchor's connection for the poll: answers the node list, counts the reads."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.reads = 0

    def run(self, text: str, **_: object) -> CommandResult:
        self.reads += 1
        return CommandResult(text, 0, self.answer, "", 0.0)


def formed(monkeypatch: pytest.MonkeyPatch, last_read: str, anchor: Anchor) -> bootstrap._Run:
    """Run the 3+2 plan; the step that reads the node list gets ``last_read``."""
    ran: list[commands.HostCommand] = []

    def answer(
        _run: bootstrap._Run, _address: str, command: commands.HostCommand, _stdin: str | None
    ) -> CommandResult:
        ran.append(command)
        out = {
            commands.OUTPUT_NODE_ID: "newid\n",
            commands.OUTPUT_SECRETS: "worker SWMTKN-1-w\nmanager SWMTKN-1-m\n",
            commands.OUTPUT_NODES: last_read,
        }.get(command.output, "")
        return CommandResult(command.run, 0, out, "", 0.0)

    answer_commands_with(monkeypatch, answer)
    plan = plan_case(CASE)
    inventory = inventory_from_data(CASE["inventory"], base=Path("/"))
    run = bootstrap._Run(ClusterSpec.model_validate({}), inventory, NullProgress(), 8, None)

    @contextlib.contextmanager
    def use(address: str) -> Iterator[Anchor]:
        assert address == plan.anchor
        yield anchor

    monkeypatch.setattr(run.hosts, "use", use)
    run.execute(plan)
    readers = [c for c in ran if c.output == commands.OUTPUT_NODES]
    assert len(readers) == 1, "exactly one step (the last manager's labels) reads the nodes"
    assert "/nodes" in readers[0].run.rsplit("&&", 1)[-1], "the list is read after the update"
    return run


def test_a_node_list_with_every_node_ready_ends_the_run_without_a_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anchor = Anchor(api_nodes({}))
    run = formed(monkeypatch, api_nodes({}), anchor)
    nodes = run.wait_ready(plan_case(CASE), timeout=5)
    assert anchor.reads == 0
    assert [(n.hostname, n.role, n.state) for n in nodes] == [
        (name, role, "ready") for name, role in HOSTS.items()
    ]


@pytest.mark.parametrize(
    "last_read",
    [api_nodes({"w2": "unknown"}), "", "curl: (7) Couldn't connect to server\n"],
    ids=["a node not ready yet", "no list", "not JSON"],
)
def test_otherwise_the_anchor_is_polled_as_before(
    monkeypatch: pytest.MonkeyPatch, last_read: str
) -> None:
    anchor = Anchor(api_nodes({}))
    run = formed(monkeypatch, last_read, anchor)
    assert len(run.wait_ready(plan_case(CASE), timeout=5)) == len(HOSTS)
    assert anchor.reads == 1
