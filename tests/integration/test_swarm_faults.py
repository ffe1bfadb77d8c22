"""The fault matrix: real faults on the local machines, each ending with every remaining node
Ready, the requested managers Reachable and a replicated service still answering; a re-run
after each converges ("no changes" or a clean repair).

The session cluster (3 managers + 2 workers) is shared with test_swarm_bootstrap.py; every
test here starts from a converged swarm and leaves one behind, so the cases run in any order.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
import urllib.request
from typing import Any

import pytest

from swarmstack.contract import SWARM_PORT
from swarmstack.errors import SwarmstackError
from swarmstack.provisioners.bootstrap import converge
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.local import LocalCluster, busybox_image
from swarmstack.provisioners.outcome import BootstrapResult
from swarmstack.provisioners.ssh import Connector

from .conftest import ClusterFactory
from .test_swarm_bootstrap import BUSYBOX, SPEC, docker, form, inventory_of, node_list, wait_for

SERVICE = "faultprobe"
PORT = 18081
REPLICAS = 3


@pytest.fixture
def swarm(local_cluster_factory: ClusterFactory) -> LocalCluster:
    """The session cluster at 3+2, converged, with the probe service answering."""
    cluster = local_cluster_factory(3, 2)
    form(cluster)
    load_image(cluster)
    ensure_service(cluster)
    assert_healthy(cluster)
    return cluster


def load_image(cluster: LocalCluster) -> None:
    """The busybox image on every machine (once: /var/lib/docker survives reboots)."""
    image = busybox_image().read_bytes()
    connector = Connector(inventory_of(cluster).ssh)
    for machine in cluster.machines:
        connection = connector.connect(machine.address)
        try:
            present = connection.run(f"docker image inspect {BUSYBOX} >/dev/null", check=False)
            if present.exit_status != 0:
                connection.put(image, "/tmp/swarmstack-busybox.tar")
                connection.run("docker load -i /tmp/swarmstack-busybox.tar >/dev/null")
        finally:
            connection.close()


def leader_of(cluster: LocalCluster) -> str:
    """The leader's name; "" while there is none (an election after a fault heals)."""
    for machine in cluster.managers:
        result = cluster.ssh(machine.name, "sudo docker node ls --format '{{json .}}'", check=False)
        for line in result.stdout.splitlines() if result.returncode == 0 else ():
            node = json.loads(line)
            if node["ManagerStatus"] == "Leader":
                return str(node["Hostname"])
    return ""


def the_leader(cluster: LocalCluster) -> str:
    leader = leader_of(cluster)
    assert leader, "no manager knows a leader"
    return leader


def ensure_service(cluster: LocalCluster) -> None:
    """A replicated web service (dnsrr and host ports: this kernel has no IPVS)."""
    leader = the_leader(cluster)
    if docker(cluster, leader, f"service ls -q --filter name={SERVICE}").strip():
        return
    answer = "hostname > /index.html && exec httpd -f -p 8080 -h /"
    docker(
        cluster,
        leader,
        f"service create --detach --name {SERVICE} --endpoint-mode dnsrr --replicas {REPLICAS} "
        f"--publish mode=host,target=8080,published={PORT} {BUSYBOX} sh -c {shlex.quote(answer)}",
    )


def answering(cluster: LocalCluster) -> list[str]:
    """The nodes whose replica answers over HTTP (its node's name in the body)."""
    leader = leader_of(cluster)
    if not leader:
        return []
    out = docker(
        cluster,
        leader,
        f"service ps {SERVICE} --filter desired-state=running --format '{{{{.Node}}}} "
        "{{.CurrentState}}'",
    )
    nodes = [line.split()[0] for line in out.splitlines() if " Running" in line]
    answered = []
    for name in nodes:
        url = f"http://{cluster.machine(name).address}:{PORT}/"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # a test host
                if response.read().strip():
                    answered.append(name)
        except OSError:
            continue
    return answered


def assert_healthy(
    cluster: LocalCluster, managers: set[str] | None = None, settle: float = 90
) -> None:
    """Every listed node Ready, the requested managers Reachable, the service answering."""
    wanted = managers or {m.name for m in cluster.managers}

    def settled() -> bool:
        leader = leader_of(cluster)
        if not leader:
            return False
        # Right after a heal the leader can still lose its term (the cut-off manager's
        # higher term forces an election), so a failing `node ls` means "not settled yet".
        result = cluster.ssh(leader, "sudo docker node ls --format '{{json .}}'", check=False)
        if result.returncode != 0:
            return False
        nodes = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        reachable = {n["Hostname"] for n in nodes if n["ManagerStatus"] in ("Leader", "Reachable")}
        return all(n["Status"] == "Ready" for n in nodes) and reachable == wanted

    try:
        wait_for(settled, settle, f"every node Ready and {sorted(wanted)} Reachable managers")
    except AssertionError as error:
        views = "".join(
            f"\n--- {m.name}:\n"
            + cluster.ssh(
                m.name,
                "sudo docker node ls 2>&1; sudo docker info 2>&1 | grep -A3 -i raft",
                check=False,
            ).stdout
            for m in cluster.managers
        )
        raise AssertionError(f"{error}; the managers' views:{views}") from None
    wait_for(lambda: len(answering(cluster)) == REPLICAS, 90, f"{REPLICAS} replicas answering")


def converge_data(cluster: LocalCluster, data: dict[str, Any]) -> BootstrapResult:
    return converge(SPEC, inventory_from_data(data, base=cluster.dir), local_machine=True)


def test_the_leader_powered_off_is_replaced_by_a_promoted_worker(
    swarm: LocalCluster, local_cluster_factory: ClusterFactory
) -> None:
    leader = the_leader(swarm)
    others = [m.name for m in swarm.managers if m.name != leader]
    promoted = swarm.workers[0]
    swarm.power_off(leader)
    wait_for(lambda: leader_of(swarm) in others, 60, "the other managers to elect a leader")

    # The operator's change: the dead leader absent, a worker turned into a manager.
    data = swarm.inventory()
    for host in data["hosts"]:
        if host["hostname"] == leader:
            host["state"] = "absent"
        if host["hostname"] == promoted.name:
            host["role"] = "manager"
    started = time.monotonic()
    result = converge_data(swarm, data)
    elapsed = time.monotonic() - started
    actions = [s.id.split(":")[0] for s in result.plan.steps]
    assert actions.index("demote") < actions.index("promote"), "the dead leader leaves raft first"
    assert "verify-manager" in actions
    assert elapsed < 100, f"the change took {elapsed:.0f} s: a repair, not a Ready timeout"
    managers = {*others, promoted.name}
    assert {n.hostname for n in result.nodes if n.role == "manager"} == managers
    listed = node_list(swarm, others[0])
    assert leader not in {n["Hostname"] for n in listed}
    assert all(n["Status"] == "Ready" for n in listed), listed
    assert_healthy(swarm, managers)
    assert converge_data(swarm, data).changed is False

    # Back to the original shape: the old leader boots with a removed node's state and joins
    # again as a manager; the promoted worker is demoted.
    local_cluster_factory(3, 2)
    restored = form(swarm)
    assert restored.changed
    assert_healthy(swarm)
    assert form(swarm).changed is False


def test_two_managers_rebooted_at_once(swarm: LocalCluster) -> None:
    leader = the_leader(swarm)
    rebooted = [m.name for m in swarm.managers if m.name != leader]
    errors: list[BaseException] = []

    def reboot(name: str) -> None:
        try:
            swarm.reboot(name)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reboot, args=(name,)) for name in rebooted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    # Straight after the reboots (raft may still be electing): the run waits for a leader.
    result = form(swarm)
    assert result.plan.steps == (), result.plan.steps
    assert_healthy(swarm)
    assert form(swarm).changed is False


CUT_OFF = (
    "iptables -I INPUT 1 ! -s {gateway} -j DROP && iptables -I INPUT 1 -i lo -j ACCEPT && "
    "iptables -I OUTPUT 1 ! -d {gateway} -j DROP && iptables -I OUTPUT 1 -o lo -j ACCEPT"
)
HEAL = (
    "iptables -D INPUT ! -s {gateway} -j DROP; iptables -D INPUT -i lo -j ACCEPT; "
    "iptables -D OUTPUT ! -d {gateway} -j DROP; iptables -D OUTPUT -o lo -j ACCEPT"
)


def test_a_manager_cut_off_from_the_others_and_healed(swarm: LocalCluster) -> None:
    leader = the_leader(swarm)
    isolated = next(m.name for m in swarm.managers if m.name != leader)
    rules = {"gateway": swarm.gateway}  # SSH from this host still reaches it
    swarm.ssh(isolated, "sudo sh -c " + shlex.quote(CUT_OFF.format(**rules)))
    try:

        def seen_unreachable() -> bool:
            nodes = node_list(swarm, leader)
            return any(
                n["Hostname"] == isolated and n["ManagerStatus"] == "Unreachable" for n in nodes
            )

        wait_for(seen_unreachable, 60, f"the managers to lose {isolated}")
        assert len(answering(swarm)) >= 1, "the service answers while a manager is cut off"
        # A run now ends in one line that says what the swarm is in, quickly.
        started = time.monotonic()
        with pytest.raises(SwarmstackError) as caught:
            converge(SPEC, inventory_of(swarm), local_machine=True, ready_timeout=15)
        elapsed = time.monotonic() - started
        assert elapsed < 60, f"the run took {elapsed:.0f} s to report the partition"
        text = str(caught.value)
        assert isolated in text
        assert "unreachable" in text.lower()
    finally:
        swarm.ssh(isolated, "sudo sh -c " + shlex.quote(HEAL.format(**rules)), check=False)
    # dockerd's gRPC connections back off while the manager is cut off (up to 120 s between
    # attempts), so the raft peers may take that long to find each other again.
    assert_healthy(swarm, settle=180)
    result = form(swarm)
    assert result.plan.steps == (), result.plan.steps
    assert_healthy(swarm)


# The worker cannot reach the managers' swarm port while this runs, so its join stays in
# progress until dockerd is killed: a join that finished between two polls would leave nothing
# to kill (a fast join takes less than the poll interval).
HOLD_JOINS = f"iptables -I OUTPUT 1 -p tcp --dport {SWARM_PORT} -j DROP"
RELEASE_JOINS = f"iptables -D OUTPUT -p tcp --dport {SWARM_PORT} -j DROP"
KILL_DOCKERD_ON_JOIN = (
    # Waits for a join to start (dockerd records it in its swarm state), then kills dockerd.
    "echo $$ > /run/faults-watcher.pid; for i in $(seq 1200); do "
    "if grep -qs JoinInProgress.:true /var/lib/docker/swarm/docker-state.json; then "
    "kill -9 $(pgrep -x dockerd) && echo killed > /run/faults-killed; break; fi; sleep 0.05; "
    f"done; {RELEASE_JOINS}"
)
# A watcher left running would kill dockerd in a later test's join.
STOP_WATCHER = f"kill $(cat /run/faults-watcher.pid) 2>/dev/null; {RELEASE_JOINS} 2>/dev/null; true"


def test_dockerd_killed_on_a_worker_during_a_join(swarm: LocalCluster) -> None:
    worker = swarm.workers[-1]
    docker(swarm, worker.name, "swarm leave --force >/dev/null")
    swarm.ssh(
        worker.name,
        f"sudo rm -f /run/faults-killed /run/faults-watcher.pid; sudo {HOLD_JOINS}; "
        "sudo setsid -f sh -c " + shlex.quote(KILL_DOCKERD_ON_JOIN) + " >/dev/null 2>&1 </dev/null",
    )
    try:
        first_error = ""
        try:
            form(swarm)
        except SwarmstackError as exc:  # the join lost its daemon: one clear error, then re-run
            first_error = str(exc)
            assert worker.address in first_error or worker.name in first_error, first_error
        killed = swarm.ssh(worker.name, "cat /run/faults-killed", check=False).stdout.strip()
        assert killed == "killed", "dockerd was not killed during the join"
    finally:
        swarm.ssh(worker.name, "sudo sh -c " + shlex.quote(STOP_WATCHER), check=False)
    # systemd restarts dockerd; a re-run repairs whatever the join left (pending, error, a
    # stale entry) or finds nothing to do.
    deadline = time.monotonic() + 60
    while True:
        try:
            form(swarm)
            break
        except SwarmstackError:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)
    assert_healthy(swarm)
    names = [n["Hostname"] for n in node_list(swarm, the_leader(swarm))]
    assert sorted(names) == sorted(m.name for m in swarm.machines), "no stale entry is left"
    assert form(swarm).changed is False
