"""The node agent's decisions: facts in, the next action out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from swarmstack.contract import LABEL_INSTANCE, LABEL_ROLE, LABEL_ZONE
from swarmstack.provisioners.nodeagent import decisions as d

ME = d.NodeIdentity("i-me", "prod", "manager", "eu-west-1a", "eu-west-1", "10.0.1.5")
WORKER = d.NodeIdentity("i-w", "prod", "worker", "eu-west-1b", "eu-west-1", "10.0.2.5")
RECORD = d.SwarmRecord("cluster-1", ("10.0.1.9:2377",))


# --- leases ---------------------------------------------------------------------------------


def test_the_first_claimant_takes_generation_one() -> None:
    assert d.lease_decision([], "i-me", 100.0) == d.LeaseDecision("take", 1)


def test_a_live_lease_of_another_node_means_wait() -> None:
    leases = [d.Lease(3, "i-other", heartbeat=100.0)]
    decision = d.lease_decision(leases, "i-me", 100.0 + d.LEASE_STALE - 1)
    assert decision == d.LeaseDecision("wait", 3, "i-other")


def test_a_stale_lease_is_taken_over_as_the_next_generation() -> None:
    leases = [d.Lease(1, "i-x", 0.0, released=True), d.Lease(2, "i-dead", heartbeat=100.0)]
    decision = d.lease_decision(leases, "i-me", 100.0 + d.LEASE_STALE + 1)
    assert decision == d.LeaseDecision("take", 3)


def test_a_released_lease_is_free_at_once() -> None:
    leases = [d.Lease(4, "i-other", heartbeat=100.0, released=True)]
    assert d.lease_decision(leases, "i-me", 100.0) == d.LeaseDecision("take", 5)


def test_our_own_lease_is_held() -> None:
    leases = [d.Lease(2, "i-me", heartbeat=0.0)]  # even stale: nobody took it over yet
    assert d.lease_decision(leases, "i-me", 1000.0).verdict == "held"


def test_lease_round_trips_through_its_parameter_value() -> None:
    lease = d.Lease(7, "i-me", 12.5, released=True)
    assert d.Lease.from_json(7, lease.to_json()) == lease


# --- boot -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("me", "local", "record", "step"),
    [
        (ME, d.LocalSwarm("inactive"), None, "init"),
        (WORKER, d.LocalSwarm("inactive"), None, "wait"),
        (ME, d.LocalSwarm("inactive"), RECORD, "join"),
        (WORKER, d.LocalSwarm("inactive"), RECORD, "join"),
        (WORKER, d.LocalSwarm("error"), RECORD, "join"),
        (ME, d.LocalSwarm("pending"), RECORD, "wait"),
        (ME, d.LocalSwarm("active", "n1", True, "cluster-1"), RECORD, "done"),
        (WORKER, d.LocalSwarm("active", "n2", False, "cluster-1"), RECORD, "done"),
        (ME, d.LocalSwarm("active", "n1", True, "cluster-1"), None, "publish"),
    ],
)
def test_boot_step(
    me: d.NodeIdentity, local: d.LocalSwarm, record: d.SwarmRecord | None, step: str
) -> None:
    assert d.boot_step(me, local, record) == step


@pytest.mark.parametrize(
    ("me", "local", "why"),
    [
        (ME, d.LocalSwarm("locked"), "locked"),
        (ME, d.LocalSwarm("active", "n1", True, "other-cluster"), "not the stack's"),
        (ME, d.LocalSwarm("active", "n1", False, "cluster-1"), "worker of the swarm"),
    ],
)
def test_boot_refuses_what_waiting_cannot_fix(
    me: d.NodeIdentity, local: d.LocalSwarm, why: str
) -> None:
    step = d.boot_step(me, local, RECORD)
    assert step.startswith("fail:")
    assert why in step


def test_swarm_record_round_trips() -> None:
    assert d.SwarmRecord.from_json(RECORD.to_json()) == RECORD


# --- nodes, labels, quorum ------------------------------------------------------------------


def node(
    node_id: str,
    role: str = "worker",
    *,
    state: str = "ready",
    availability: str = "active",
    address: str = "",
    labels: dict[str, str] | None = None,
    reachability: str = "",
    leader: bool = False,
) -> d.SwarmNode:
    if role == "manager" and not reachability:
        reachability = "reachable"
    return d.SwarmNode(
        node_id, 1, role, state, availability, address, labels or {}, reachability, leader
    )


def test_labels_come_from_the_instance_matched_by_address() -> None:
    instance = d.Instance("i-1", "10.0.1.7", "eu-west-1c", "worker", "running")
    nodes = [
        node("a", address="10.0.1.7", labels={"team": "x"}),
        node("b", address="10.0.9.9"),  # no instance: left alone
    ]
    old = d.Instance("i-0", "10.0.1.7", "eu-west-1a", "manager", "terminated")  # same address
    (update,) = d.label_updates(nodes, [instance, old])
    assert update.id == "a"
    assert update.labels == {
        "team": "x",
        LABEL_ROLE: "worker",
        LABEL_ZONE: "eu-west-1c",
        LABEL_INSTANCE: "i-1",
    }
    assert d.label_updates([update], [instance]) == []  # labelled: nothing more to do


def test_joiners_are_sent_to_reachable_managers_leader_first() -> None:
    nodes = [
        node("m2", "manager", address="10.0.1.2"),
        node("m1", "manager", address="10.0.1.3", leader=True),
        node("m3", "manager", address="10.0.1.1", reachability="unreachable"),
        node("w", address="10.0.2.1"),
    ]
    assert d.manager_addresses(nodes, 2377) == ("10.0.1.3:2377", "10.0.1.2:2377")


@pytest.mark.parametrize(
    ("reachability", "allowed"),
    [
        (["reachable", "reachable", "reachable"], True),  # 3 -> 2: two others reachable
        (["reachable", "reachable", "unreachable"], False),  # one other left: no quorum of 2
        (["reachable"], False),  # the last manager
    ],
)
def test_a_manager_is_removed_only_while_the_others_keep_quorum(
    reachability: list[str], allowed: bool
) -> None:
    managers = [node(f"m{i}", "manager", reachability=r) for i, r in enumerate(reachability)]
    assert d.can_remove_manager(managers, managers[0]) is allowed


def test_five_managers_survive_losing_two() -> None:
    managers = [node(f"m{i}", "manager") for i in range(5)]
    managers[4] = node("m4", "manager", reachability="unreachable")
    assert d.can_remove_manager(managers, managers[0])  # 4 left, 3 reachable others >= 3


# --- lifecycle notices ----------------------------------------------------------------------


def notice_body(**overrides: str) -> str:
    body = {
        "LifecycleHookName": "swarmstack-node-leaving",
        "AutoScalingGroupName": "prod-workers",
        "EC2InstanceId": "i-1",
        "LifecycleActionToken": "token-1",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
    }
    body.update(overrides)
    return json.dumps(body)


def test_notices_are_parsed_from_auto_scaling_messages() -> None:
    notice = d.parse_notice("r-1", notice_body())
    assert notice.is_termination
    assert (notice.instance_id, notice.group, notice.token) == ("i-1", "prod-workers", "token-1")


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"Event": "autoscaling:TEST_NOTIFICATION"}),
        "not json",
        "[1, 2]",
        notice_body(LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING"),
    ],
)
def test_other_messages_are_discarded(body: str) -> None:
    notice = d.parse_notice("r", body)
    assert d.leaving_step(notice, None, []) == "discard"


LEAVING = d.parse_notice("r", notice_body())


def test_a_leaving_worker_is_drained_then_removed_then_completed() -> None:
    worker = node("w", labels={LABEL_INSTANCE: "i-1"})
    assert d.leaving_step(LEAVING, worker, [worker]) == "drain"
    drained = node("w", availability="drain", labels={LABEL_INSTANCE: "i-1"})
    assert d.leaving_step(LEAVING, drained, [drained]) == "remove"
    assert d.leaving_step(LEAVING, None, []) == "complete"


def test_a_leaving_manager_is_demoted_only_while_quorum_holds() -> None:
    leaving = node("m0", "manager", availability="drain")
    healthy = [leaving, node("m1", "manager"), node("m2", "manager")]
    assert d.leaving_step(LEAVING, leaving, healthy) == "demote"
    degraded = [leaving, node("m1", "manager"), node("m2", "manager", reachability="unreachable")]
    assert d.leaving_step(LEAVING, leaving, degraded) == "wait"


def test_the_node_of_an_instance_is_found_by_label_then_address() -> None:
    labelled = node("a", labels={LABEL_INSTANCE: "i-1"})
    unlabelled = node("b", address="10.0.0.8")
    assert d.find_node([unlabelled, labelled], "i-1", "10.0.0.8") == labelled
    assert d.find_node([unlabelled], "i-1", "10.0.0.8") == unlabelled
    assert d.find_node([unlabelled], "i-1", "") is None


# --- sweeping -------------------------------------------------------------------------------


def test_down_nodes_of_gone_instances_are_swept_after_the_grace_period() -> None:
    gone = node("g", state="down", labels={LABEL_INSTANCE: "i-gone"})
    stopped = node("s", state="down", labels={LABEL_INSTANCE: "i-stopped"})
    unknown = node("u", state="down")  # no instance label: cannot tell, never swept
    ready = node("r", labels={LABEL_INSTANCE: "i-ready"})
    nodes = [gone, stopped, unknown, ready]
    states = {"i-stopped": "stopped", "i-ready": "running"}  # i-gone: EC2 no longer knows it

    remove, seen = d.sweep(nodes, states, {}, now=1000.0)
    assert remove == []
    assert seen == {"g": 1000.0}
    remove, seen = d.sweep(nodes, states, seen, now=1000.0 + d.SWEEP_GRACE)
    assert remove == [gone]


def test_a_node_that_comes_back_starts_its_grace_period_again() -> None:
    down = node("g", state="down", labels={LABEL_INSTANCE: "i-1"})
    _, seen = d.sweep([down], {"i-1": "terminated"}, {}, now=0.0)
    back = node("g", labels={LABEL_INSTANCE: "i-1"})
    _, seen = d.sweep([back], {"i-1": "terminated"}, seen, now=10.0)
    assert seen == {}


def test_a_down_manager_is_swept_only_while_quorum_holds() -> None:
    down = node("m0", "manager", state="down", reachability="unreachable",
                labels={LABEL_INSTANCE: "i-0"})  # fmt: skip
    ok = [down, node("m1", "manager"), node("m2", "manager")]
    remove, _ = d.sweep(ok, {}, {"m0": 0.0}, now=d.SWEEP_GRACE)
    assert remove == [down]
    lost = [down, node("m1", "manager"), node("m2", "manager", reachability="unreachable")]
    remove, _ = d.sweep(lost, {}, {"m0": 0.0}, now=d.SWEEP_GRACE)
    assert remove == []


# --- published ports ------------------------------------------------------------------------


def service(*ports: tuple[int, str, str]) -> dict[str, Any]:
    return {
        "Endpoint": {
            "Ports": [
                {"PublishedPort": p, "Protocol": proto, "PublishMode": mode, "TargetPort": 80}
                for p, proto, mode in ports
            ]
        }
    }


def test_only_tcp_ports_published_through_the_routing_mesh_count() -> None:
    services: list[dict[str, Any]] = [
        service((8080, "tcp", "ingress"), (5353, "udp", "ingress")),
        service((9000, "tcp", "host")),
        {"Endpoint": {}},
        {},
    ]
    assert d.ingress_ports(services) == {8080}


def test_listeners_follow_services_and_fixed_ones_stay() -> None:
    add, remove = d.port_changes(wanted={80, 8080, 9090}, fixed={80, 443}, managed={9090, 7000})
    assert add == [80, 443, 8080]
    assert remove == [7000]
    add, remove = d.port_changes(wanted=set(), fixed={80, 443}, managed={80, 443, 8080})
    assert (add, remove) == ([], [8080])  # the spec's ports are never removed


# --- console parameters ---------------------------------------------------------------------

BASE = {"icc": False, "log-driver": "local", "log-opts": {"max-size": "20m"}}
LOCAL_OPTS = {"max-size": "20m", "max-file": "5"}


def test_a_log_group_tag_means_awslogs_to_that_group() -> None:
    config = d.daemon_config_for(BASE, "eu-west-1", "/prod/containers", LOCAL_OPTS)
    assert config["log-driver"] == "awslogs"
    assert config["log-opts"]["awslogs-group"] == "/prod/containers"
    assert config["log-opts"]["awslogs-region"] == "eu-west-1"
    assert config["icc"] is False


@pytest.mark.parametrize("log_group", [None, ""])
def test_no_log_group_tag_means_the_local_driver(log_group: str | None) -> None:
    awslogs = d.daemon_config_for(BASE, "eu-west-1", "/g", LOCAL_OPTS)
    config = d.daemon_config_for(awslogs, "eu-west-1", log_group, LOCAL_OPTS)
    assert config["log-driver"] == "local"
    assert config["log-opts"] == LOCAL_OPTS
