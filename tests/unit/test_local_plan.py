"""Names, addresses and scale plans of the local machines (pure code)."""

from __future__ import annotations

import pytest

from swarmstack.errors import UsageError
from swarmstack.provisioners.local.plan import (
    Machine,
    bridge_address,
    free_subnet,
    plan_scale,
    subnet,
)


def names(machines: tuple[Machine, ...]) -> list[str]:
    return [m.name for m in machines]


def test_first_cluster_gets_managers_then_workers_from_dot_11() -> None:
    plan = plan_scale([], 3, 2, 0)
    assert [(m.name, m.role, m.address) for m in plan.add] == [
        ("ss-m1", "manager", "198.18.0.11"),
        ("ss-m2", "manager", "198.18.0.12"),
        ("ss-m3", "manager", "198.18.0.13"),
        ("ss-w1", "worker", "198.18.0.14"),
        ("ss-w2", "worker", "198.18.0.15"),
    ]
    assert plan.keep == ()
    assert plan.remove == ()
    assert [m.zone for m in plan.add] == ["a", "b", "c", "a", "b"]


def test_same_counts_change_nothing() -> None:
    current = plan_scale([], 3, 2, 0).target
    plan = plan_scale(current, 3, 2, 0)
    assert not plan.changes
    assert plan.keep == current


def test_scale_out_keeps_addresses_and_takes_the_next_free_one() -> None:
    current = plan_scale([], 3, 2, 0).target
    plan = plan_scale(current, 3, 3, 0)
    assert plan.keep == current
    assert [(m.name, m.address) for m in plan.add] == [("ss-w3", "198.18.0.16")]


def test_scale_down_removes_the_highest_numbers_of_each_role() -> None:
    current = plan_scale(plan_scale([], 3, 2, 0).target, 3, 3, 0).target
    plan = plan_scale(current, 1, 1, 0)
    assert names(plan.keep) == ["ss-m1", "ss-w1"]
    assert names(plan.remove) == ["ss-m2", "ss-m3", "ss-w2", "ss-w3"]
    assert plan.add == ()
    assert names(plan.target) == ["ss-m1", "ss-w1"]


def test_a_freed_address_is_reused_only_after_its_machine_is_gone() -> None:
    current = plan_scale([], 1, 2, 0).target  # m1 .11, w1 .12, w2 .13
    shrunk = plan_scale(current, 1, 1, 0).target  # w2 (.13) removed
    grown = plan_scale(shrunk, 3, 1, 0)
    assert [(m.name, m.address) for m in grown.add] == [
        ("ss-m2", "198.18.0.13"),
        ("ss-m3", "198.18.0.14"),
    ]


def test_other_clusters_get_their_own_slash_24() -> None:
    assert str(subnet(0)) == "198.18.0.0/24"
    assert str(subnet(7)) == "198.18.7.0/24"
    assert str(subnet(255)) == "198.18.255.0/24"
    assert bridge_address(3) == "198.18.3.1"
    assert plan_scale([], 1, 0, 3).add[0].address == "198.18.3.11"
    assert free_subnet([]) == 0
    assert free_subnet([0, 1, 3]) == 2


@pytest.mark.parametrize(
    ("managers", "workers", "flag"),
    [(2, 1, "--managers=2"), (0, 1, "--managers=0"), (9, 0, "--managers=9"),
     (1, -1, "--workers=-1"), (1, 999, "--workers=999")],
)  # fmt: skip
def test_bad_counts_name_the_flag(managers: int, workers: int, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        plan_scale([], managers, workers, 0)


def test_only_the_benchmark_range_is_ever_used() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        subnet(256)
    plan = plan_scale([], 7, 200, 255)
    assert all(m.address.startswith("198.18.255.") for m in plan.add)
    assert len({m.address for m in plan.add}) == 207
