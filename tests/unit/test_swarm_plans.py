"""The swarm state machine as data: facts in, steps out (tests/unit/swarm_plans/*.json).

Each case holds a spec, an inventory, the facts of every host, and either the expected steps
(reviewed by hand; SWARMSTACK_WRITE_PLANS=1 rewrites them for review) or the expected error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from swarmstack import errors
from swarmstack.provisioners.facts import HostFacts, SwarmNode
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.swarm import plan_swarm
from swarmstack.spec import ClusterSpec

CASES = sorted((Path(__file__).parent / "swarm_plans").glob("*.json"))


def host_facts(data: dict[str, Any]) -> HostFacts:
    data = dict(data)
    if "nodes" in data:
        data["nodes"] = tuple(SwarmNode(**node) for node in data["nodes"])
    data["remote_managers"] = tuple(data.get("remote_managers", ()))
    return HostFacts(**data)


def plan_case(case: dict[str, Any]) -> Any:
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
    got = {"steps": [s.to_dict() for s in plan.steps], "anchor": plan.anchor,
           "removed": list(plan.removed)}  # fmt: skip
    if os.environ.get("SWARMSTACK_WRITE_PLANS"):
        case["expected"] = got
        path.write_text(json.dumps(case, indent=2, sort_keys=True) + "\n")
    assert got == case["expected"]


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
