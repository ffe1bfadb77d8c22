"""The swarm state machine as data: facts in, steps out (tests/unit/swarm_plans/*.json).

Each case holds a spec, an inventory, the facts of every host, and either the expected error
or the expected steps and the exact commands each host receives for them (pyinfra style: facts
in, commands out). The expected data is reviewed by hand; scripts/write_swarm_plans.py rewrites
it for review after an intended change (read its diff).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swarmstack import errors
from swarmstack.provisioners.commands import ON_NODE, rejoin_manager, step_commands
from swarmstack.provisioners.facts import HostFacts, SwarmNode
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.swarm import Plan, plan_swarm
from swarmstack.spec import ClusterSpec

CASES = sorted((Path(__file__).parent / "swarm_plans").glob("*.json"))


def host_facts(data: dict[str, Any]) -> HostFacts:
    data = dict(data)
    if "nodes" in data:
        data["nodes"] = tuple(SwarmNode(**node) for node in data["nodes"])
    data["remote_managers"] = tuple(data.get("remote_managers", ()))
    return HostFacts(**data)


def host_commands(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """Every host's commands, in plan order (hosts run them as the step graph allows)."""
    commands: dict[str, list[dict[str, Any]]] = {}
    for step in plan.steps:
        for command in step_commands(step):
            commands.setdefault(step.host, []).append({"step": step.id, **command.to_dict()})
        if step.action == "verify-manager":  # what runs only if the node needs the repair
            for where, command in rejoin_manager(step):
                host = step.host if where == ON_NODE else plan.anchor
                commands.setdefault(host, []).append(
                    {"step": f"{step.id} (repair)", **command.to_dict()}
                )
    return commands


def expected_of(plan: Plan) -> dict[str, Any]:
    return {
        "steps": [s.to_dict() for s in plan.steps],
        "anchor": plan.anchor,
        "removed": list(plan.removed),
        "commands": host_commands(plan),
    }


def plan_case(case: dict[str, Any]) -> Plan:
    spec = ClusterSpec.model_validate(case["spec"])
    inventory = inventory_from_data(case["inventory"], base=Path("/"))
    facts = {address: host_facts(f) for address, f in case["facts"].items()}
    return plan_swarm(spec, inventory, facts)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_plan(path: Path) -> None:
    case = json.loads(path.read_text())
    if "error" in case:
        with pytest.raises(getattr(errors, case["error"])) as caught:
            plan_case(case)
        assert all("SWMTKN" not in line for line in caught.value.problems)
        return
    plan = plan_case(case)
    ids = [s.id for s in plan.steps]
    assert len(ids) == len(set(ids)), "step ids must be unique"
    assert all(dep in ids for s in plan.steps for dep in s.after)
    got = expected_of(plan)
    assert got["steps"] == case["expected"]["steps"]
    assert (got["anchor"], got["removed"]) == (case["expected"]["anchor"],
                                               case["expected"]["removed"])  # fmt: skip
    assert got["commands"] == case["expected"]["commands"], "a host command changed"


def test_no_changes_means_no_steps() -> None:
    case = json.loads(
        (Path(__file__).parent / "swarm_plans" / "formed_no_changes.json").read_text()
    )
    plan = plan_case(case)
    assert not plan.changed
    assert plan.steps == ()


def test_new_swarm_order() -> None:
    """Managers join one after another; workers only need the first manager."""
    case = json.loads((Path(__file__).parent / "swarm_plans" / "new_swarm_3_2.json").read_text())
    steps = {s.id: s for s in plan_case(case).steps}
    assert steps["join:198.18.0.12"].after == ("init:198.18.0.11",)
    assert steps["join:198.18.0.13"].after == ("join:198.18.0.12",)
    assert steps["join:198.18.0.14"].after == ("init:198.18.0.11",)
    assert steps["init:198.18.0.11"].args["advertise_addr"] == "198.18.0.11"


def test_secrets_reach_hosts_only_on_stdin() -> None:
    """A join sends its token in the API request on stdin; no command text can hold one."""
    joins = 0
    for path in CASES:
        case = json.loads(path.read_text())
        for commands in case.get("expected", {}).get("commands", {}).values():
            for command in commands:
                assert "<<" not in command["run"]
                assert "SWMTKN" not in command["run"] + command["stdin"]
                if command["step"].startswith("join:"):
                    joins += 1
                    body = json.loads(command["stdin"])  # the API request, token and all
                    assert body["JoinToken"] in ("<<worker join token>>", "<<manager join token>>")
                    assert "curl" in command["run"]
                    assert "--data-binary @-" in command["run"]
    assert joins >= 5


def test_an_update_names_a_node_joined_in_this_run_by_its_new_id() -> None:
    case = json.loads((Path(__file__).parent / "swarm_plans" / "new_swarm_3_2.json").read_text())
    steps = {s.id: s for s in plan_case(case).steps}
    (command,) = step_commands(steps["update:198.18.0.14"], {"198.18.0.14": "nodeid14"})
    assert "swarmstack_node_update nodeid14 '\"swarmstack.role\":\"worker\"' ''" in command.run
    (command,) = step_commands(steps["update:198.18.0.14"], {"198.18.0.15": "nodeid15"})
    assert "swarmstack_node_update w1 '\"swarmstack.role\":\"worker\"' ''" in command.run


def test_labels_never_hold_up_a_join() -> None:
    """Each node is labelled by its own step right after its own join, on the anchor: the
    next manager's join waits for the previous join only, and no label waits for other
    nodes' joins; every join prints the new node's id (its update names it by that id)."""
    case = json.loads((Path(__file__).parent / "swarm_plans" / "new_swarm_3_2.json").read_text())
    plan = plan_case(case)
    joins = [s for s in plan.steps if s.action == "join"]
    updates = {s.target: s for s in plan.steps if s.action in ("update", "update-many")}
    assert {u.action for u in updates.values()} == {"update"}
    for join in joins:
        assert all(d.startswith(("init:", "join:", "leave:")) for d in join.after), join
        assert updates[join.target].after == (join.id,)
        assert updates[join.target].host == plan.anchor
        (command,) = step_commands(join)
        assert command.output == "node id"
        assert "swarmstack_node_update" not in command.run
