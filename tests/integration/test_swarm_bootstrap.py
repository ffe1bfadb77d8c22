"""The SSH bootstrap forms and keeps a real swarm on the local machines.

One session cluster is reused by every test (booting is the slow part); each test starts from
a converged 3+2 swarm and leaves one behind. The scale test runs last.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import swarmstack.provisioners.tuning
from swarmstack.cli.main import cli
from swarmstack.cloudinit import TuningScript
from swarmstack.contract import STATE_DIR, TUNING_MARKER
from swarmstack.errors import (
    ExitCode,
    ForeignSwarm,
    HostKeyMismatch,
    HostKeyUnknown,
    HostUnreachable,
)
from swarmstack.provisioners.bootstrap import converge
from swarmstack.provisioners.facts import FACTS_COMMAND, parse_facts
from swarmstack.provisioners.inventory import Inventory, inventory_from_data
from swarmstack.provisioners.local import (
    SWARM_DEFAULT_ADDR_POOL,
    SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    LocalCluster,
    Machine,
    busybox_image,
)
from swarmstack.provisioners.outcome import BootstrapResult
from swarmstack.provisioners.ssh import Connector
from swarmstack.spec import ClusterSpec

from .conftest import ClusterFactory
from .running import wait_until

SPEC = ClusterSpec.model_validate(
    {
        "default_addr_pool": [SWARM_DEFAULT_ADDR_POOL],
        "default_addr_pool_mask_length": SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    }
)
BUSYBOX = "swarmstack/busybox:latest"


def inventory_of(cluster: LocalCluster, leaving: Sequence[Machine] = (), **ssh: Any) -> Inventory:
    data = cluster.inventory()
    gone = {m.name for m in leaving}
    for host in data["hosts"]:
        if host["hostname"] in gone:
            host["state"] = "absent"
    data["ssh"].update(ssh)
    return inventory_from_data(data, base=cluster.dir)


def form(cluster: LocalCluster, **kwargs: Any) -> BootstrapResult:
    return converge(SPEC, inventory_of(cluster), local_machine=True, **kwargs)


def docker(cluster: LocalCluster, machine: str, command: str) -> str:
    return cluster.ssh(machine, f"sudo docker {command}").stdout


def node_list(cluster: LocalCluster, machine: str | None = None) -> list[dict[str, Any]]:
    name = machine or cluster.managers[0].name
    out = docker(cluster, name, "node ls --format '{{json .}}'")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def node_versions(cluster: LocalCluster) -> dict[str, int]:
    """Raft object versions of every node: any swarm write changes one."""
    out = docker(
        cluster,
        cluster.managers[0].name,
        "node inspect --format '{{.ID}} {{.Version.Index}}' $(sudo docker node ls -q)",
    )
    return {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.strip()}


def wait_for(check: Any, timeout: float, what: str) -> None:
    wait_until(check, timeout, what, every=0.5)


@pytest.fixture
def swarm(local_cluster_factory: ClusterFactory) -> LocalCluster:
    """The session cluster at 3+2 with a converged swarm."""
    cluster = local_cluster_factory(3, 2)
    form(cluster)
    return cluster


def test_forms_a_swarm_with_the_right_roles_and_runs_a_service(
    local_cluster_factory: ClusterFactory,
) -> None:
    cluster = local_cluster_factory(3, 2)
    result = form(cluster)
    roles = {n.hostname: (n.role, n.state) for n in result.nodes}
    assert roles == {m.name: (m.role, "ready") for m in cluster.machines}
    assert {n.address for n in result.nodes} == {m.address for m in cluster.machines}
    listed = {n["Hostname"]: n for n in node_list(cluster)}
    assert sorted(listed) == sorted(m.name for m in cluster.machines)
    assert all(n["Status"] == "Ready" for n in listed.values())
    assert {h for h, n in listed.items() if n["ManagerStatus"]} == {
        m.name for m in cluster.managers
    }
    labels = docker(
        cluster,
        cluster.managers[0].name,
        "node inspect --format '{{.Description.Hostname}} {{json .Spec.Labels}}' "
        "$(sudo docker node ls -q)",
    )
    for line in labels.splitlines():
        hostname, text = line.split(" ", 1)
        machine = cluster.machine(hostname)
        assert json.loads(text)["swarmstack.role"] == machine.role
        if machine.role == "manager":
            assert json.loads(text)["swarmstack.zone"] == machine.zone

    # A tiny image over SFTP on every node, then a service spread over them (dnsrr: no IPVS).
    image = busybox_image().read_bytes()
    inventory = inventory_of(cluster)
    connector = Connector(inventory.ssh)
    for machine in cluster.machines:
        connection = connector.connect(machine.address)
        try:
            connection.put(image, "/tmp/swarmstack-busybox.tar")
            connection.run("docker load -i /tmp/swarmstack-busybox.tar >/dev/null")
        finally:
            connection.close()
    leader = cluster.managers[0].name
    docker(cluster, leader, "service rm probe >/dev/null 2>&1 || true")
    docker(
        cluster,
        leader,
        f"service create --detach --name probe --endpoint-mode dnsrr --replicas 5 "
        f"--publish mode=host,target=8080,published=18080 {BUSYBOX} "
        "httpd -f -p 8080",
    )
    try:

        def spread() -> bool:
            out = docker(
                cluster,
                leader,
                "service ps probe --filter desired-state=running "
                "--format '{{.Node}} {{.CurrentState}}'",
            )
            running = {line.split()[0] for line in out.splitlines() if " Running" in line}
            return len(running) >= 3

        wait_for(spread, 60, "the probe service to run on several nodes")
    finally:
        docker(cluster, leader, "service rm probe >/dev/null")


def test_a_second_run_changes_nothing(swarm: LocalCluster) -> None:
    before = node_versions(swarm)
    result = form(swarm)
    assert result.changed is False
    assert result.plan.steps == ()
    assert result.mutating_commands == ()
    assert result.to_dict()["changed"] is False
    assert node_versions(swarm) == before


def test_the_facts_read_the_same_nodes_through_the_cli_as_through_the_engine_api(
    swarm: LocalCluster,
) -> None:
    """Where the Engine API cannot be read with curl, the facts fall back to the docker CLI
    (`docker node inspect --format '{{json .}}'`): the planner sees the same nodes."""
    manager = swarm.managers[0]
    api = swarm.ssh(manager.name, f"sudo bash -c {shlex.quote(FACTS_COMMAND)}").stdout
    no_curl = "curl() { return 7; }; " + FACTS_COMMAND  # a function hides the binary
    cli = swarm.ssh(manager.name, f"sudo bash -c {shlex.quote(no_curl)}").stdout
    through_api = parse_facts(manager.address, api)
    through_cli = parse_facts(manager.address, cli)
    assert through_api.nodes is not None
    assert len(through_api.nodes) == 5
    assert through_cli.nodes_error == ""
    assert sorted(through_cli.nodes or (), key=lambda n: n.id) == sorted(
        through_api.nodes, key=lambda n: n.id
    )
    assert through_cli.node_id == through_api.node_id != ""


def test_with_few_connections_kept_hosts_are_reconnected_for_their_steps(
    swarm: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --max-parallel 2 keeps 2 connections between uses (the first manager's and one more):
    # of the five hosts the run needs (three managers, two workers to rejoin), some must be
    # connected again for their steps.
    for worker in swarm.workers:
        docker(swarm, worker.name, "swarm leave --force")
    connects: list[str] = []
    connect = Connector.connect

    def counted(self: Connector, address: str, *args: Any, **kwargs: Any) -> Any:
        connects.append(address)
        return connect(self, address, *args, **kwargs)

    monkeypatch.setattr(Connector, "connect", counted)
    result = form(swarm, max_parallel=2)
    workers = {w.address for w in swarm.workers}
    joined = {s.host for s in result.plan.steps if s.action == "join"}
    assert joined == workers
    assert any(connects.count(a) == 2 for a in workers)  # closed after the facts, reopened
    assert sorted((n.hostname, n.role, n.state) for n in result.nodes) == sorted(
        (m.name, m.role, "ready") for m in (*swarm.managers, *swarm.workers)
    )
    connects.clear()
    assert form(swarm, max_parallel=2).changed is False
    # Workers in the swarm have no step: one connection each, for their facts.
    assert all(connects.count(a) == 1 for a in workers)
    assert set(connects) == workers | {m.address for m in swarm.managers}


def test_a_host_key_that_does_not_match_is_refused(swarm: LocalCluster, tmp_path: Path) -> None:
    before = node_versions(swarm)
    known = swarm.known_hosts_path.read_text().splitlines()
    victim = swarm.workers[0]
    other_key = next(line for line in known if line.startswith(swarm.workers[1].address + " "))
    forged = [
        victim.address + " " + other_key.split(" ", 1)[1] if line.startswith(victim.address + " ")
        else line
        for line in known
    ]  # fmt: skip
    (tmp_path / "known_hosts").write_text("\n".join(forged) + "\n")
    started = time.monotonic()
    with pytest.raises(HostKeyMismatch) as caught:
        converge(
            SPEC, inventory_of(swarm, known_hosts=str(tmp_path / "known_hosts")), local_machine=True
        )
    assert time.monotonic() - started < 30, "a host key mismatch must never be retried"
    message = "\n".join(caught.value.problems)
    assert victim.address in message
    assert "does not match" in message
    assert node_versions(swarm) == before


def test_a_host_in_another_swarm_is_an_error(swarm: LocalCluster) -> None:
    stray = swarm.workers[1]
    docker(swarm, stray.name, "swarm leave --force >/dev/null")
    docker(
        swarm,
        stray.name,
        f"swarm init --advertise-addr {stray.address} --default-addr-pool "
        f"{SWARM_DEFAULT_ADDR_POOL} >/dev/null",
    )
    try:
        with pytest.raises(ForeignSwarm) as caught:
            form(swarm)
        assert stray.address in "\n".join(caught.value.problems)
    finally:
        docker(swarm, stray.name, "swarm leave --force >/dev/null")
    # Out of its own swarm, the host joins again; its old node entry is removed.
    result = form(swarm)
    assert result.changed
    names = [n["Hostname"] for n in node_list(swarm)]
    assert sorted(names) == sorted(m.name for m in swarm.machines)


def test_an_unreachable_host_fails_after_bounded_retries(swarm: LocalCluster) -> None:
    before = node_versions(swarm)
    data = swarm.inventory()
    nobody = swarm.machines[-1].address.rsplit(".", 1)[0] + ".250"  # no machine there
    data["hosts"].append({"address": nobody, "role": "worker"})
    data["ssh"]["connect_window"] = 3
    started = time.monotonic()
    with pytest.raises(HostUnreachable) as caught:
        converge(SPEC, inventory_from_data(data, base=swarm.dir), local_machine=True)
    elapsed = time.monotonic() - started
    message = "\n".join(caught.value.problems)
    assert nobody in message
    assert "attempts" in message
    assert "nothing was changed" in message
    assert elapsed < 20
    assert node_versions(swarm) == before


def test_a_rebooted_worker_comes_back_ready(swarm: LocalCluster) -> None:
    worker = swarm.workers[0]
    swarm.reboot(worker.name)

    def ready() -> bool:
        return any(
            n["Hostname"] == worker.name and n["Status"] == "Ready" for n in node_list(swarm)
        )

    wait_for(ready, 90, f"{worker.name} to be Ready again")
    assert form(swarm).changed is False


def test_the_leader_stopping_keeps_quorum_and_a_rerun_converges(swarm: LocalCluster) -> None:
    leader = next(n["Hostname"] for n in node_list(swarm) if n["ManagerStatus"] == "Leader")
    others = [m.name for m in swarm.managers if m.name != leader]
    swarm.stop_service(leader, "docker.socket", "docker")

    def new_leader() -> bool:
        result = swarm.ssh(others[0], "sudo docker node ls --format '{{json .}}'", check=False)
        if result.returncode != 0:
            return False
        nodes = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return any(n["ManagerStatus"] == "Leader" and n["Hostname"] != leader for n in nodes)

    wait_for(new_leader, 60, "the remaining managers to elect a leader")
    result = form(swarm)
    assert result.changed
    states = {n.hostname: (n.role, n.state) for n in result.nodes}
    assert states[leader] == ("manager", "ready")
    assert form(swarm).changed is False


def test_hosts_are_reached_through_a_bastion(swarm: LocalCluster) -> None:
    jump = swarm.managers[0]
    inventory = inventory_of(swarm, bastion=f"{swarm.ssh_user}@{jump.address}:22")
    assert inventory.ssh.bastion is not None
    result = converge(SPEC, inventory, local_machine=True)
    assert result.changed is False
    assert len(result.nodes) == len(swarm.machines)


def test_unknown_host_keys_are_refused_unless_trust_on_first_use(
    swarm: LocalCluster, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    with pytest.raises(HostKeyUnknown) as caught:
        converge(SPEC, inventory_of(swarm, known_hosts=str(known_hosts)), local_machine=True)
    assert "trust_on_first_use" in (caught.value.hint or "")
    assert not known_hosts.exists()
    result = converge(
        SPEC,
        inventory_of(swarm, known_hosts=str(known_hosts), trust_on_first_use=True),
        local_machine=True,
    )
    assert result.changed is False
    recorded = {tuple(line.split()[:3]) for line in known_hosts.read_text().splitlines()}
    pinned = {tuple(line.split()[:3]) for line in swarm.known_hosts_path.read_text().splitlines()}
    assert len(recorded) == len(swarm.machines)
    assert recorded <= pinned, "the keys recorded on first use are the machines' real keys"


def test_join_tokens_never_reach_logs_results_or_command_lines(
    swarm: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    worker = swarm.workers[0]
    docker(swarm, worker.name, "swarm leave --force >/dev/null")
    caplog.set_level(logging.DEBUG, logger="swarmstack")
    result = form(swarm)
    assert result.changed
    assert any("/swarm/join" in c.command for c in result.commands)
    manager = swarm.managers[0].name
    tokens = [
        docker(swarm, manager, f"swarm join-token -q {role}").strip()
        for role in ("worker", "manager")
    ]
    seen = caplog.text + repr(result) + json.dumps(result.to_dict())
    seen += "\n".join(c.command for c in result.commands)
    for token in tokens:
        assert token.startswith("SWMTKN-1-")
        assert token not in seen
        assert token.rsplit("-", 1)[1] not in seen


def test_plan_shows_the_steps_and_changes_nothing(swarm: LocalCluster) -> None:
    worker = swarm.workers[1]
    docker(swarm, worker.name, "swarm leave --force >/dev/null")
    result = converge(SPEC, inventory_of(swarm), dry_run=True, local_machine=True)
    assert result.dry_run
    assert result.changed
    assert result.mutating_commands == ()
    assert ("join", worker.address) in {(s.action, s.target) for s in result.plan.steps}
    state = docker(swarm, worker.name, "info --format '{{.Swarm.LocalNodeState}}'").strip()
    assert state == "inactive", "a plan must not change anything"
    assert form(swarm).changed


def test_the_cli_prints_json_and_plans(swarm: LocalCluster, tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(swarm.inventory()))
    # The local machines take the local form of the host tuning (`local up` passes it).
    pool = ["--default-addr-pool", SWARM_DEFAULT_ADDR_POOL, "--no-tuning"]
    runner = CliRunner()
    planned = runner.invoke(cli, ["-o", "json", "bootstrap", "-i", str(path), "--plan", *pool])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout) == {"changed": False, "prepare": [], "steps": []}
    ran = runner.invoke(cli, ["-o", "json", "bootstrap", "-i", str(path), *pool])
    assert ran.exit_code == 0, ran.output
    data = json.loads(ran.stdout)
    assert data["changed"] is False
    assert {(n["address"], n["hostname"], n["role"], n["state"]) for n in data["nodes"]} == {
        (m.address, m.name, m.role, "ready") for m in swarm.machines
    }
    assert all(
        set(n) == {"address", "hostname", "role", "state", "availability"} for n in data["nodes"]
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({**swarm.inventory(), "hosts": [{"address": "x", "role": "boss"}]})
    )
    refused = runner.invoke(cli, ["bootstrap", "-i", str(bad)])
    assert refused.exit_code == ExitCode.USAGE
    assert "hosts[0].role: must be manager or worker" in refused.stderr


def test_host_tuning_is_applied_first_and_only_once(
    swarm: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ssh_tuning(spec: ClusterSpec, role: str, *, local_machine: bool = False) -> TuningScript:
        assert local_machine
        # Like the real script: the marker, with the digest, is the last thing it writes.
        marker = json.dumps({"role": role, "tuning": f"test{role}"})
        return TuningScript(
            "#!/bin/bash\nset -euo pipefail\n"
            f"mkdir -p /etc/swarmstack-test && echo {role} > /etc/swarmstack-test/tuned\n"
            f"mkdir -p {STATE_DIR} && echo '{marker}' > {TUNING_MARKER}\n",
            f"test{role}",
        )

    monkeypatch.setattr(swarmstack.provisioners.tuning, "ssh_tuning", ssh_tuning)
    result = form(swarm)
    assert result.changed
    assert {p.host for p in result.prepare if p.action == "tune"} == {
        m.address for m in swarm.machines
    }
    for machine in (swarm.managers[0], swarm.workers[0]):
        tuned = swarm.ssh(machine.name, "cat /etc/swarmstack-test/tuned").stdout.strip()
        assert tuned == machine.role
    again = form(swarm)
    assert again.changed is False
    assert again.mutating_commands == ()


def test_scale_out_then_in_drains_demotes_and_removes(
    local_cluster_factory: ClusterFactory,
) -> None:
    cluster = local_cluster_factory(3, 2)
    form(cluster)
    cluster = local_cluster_factory(3, 3)
    result = form(cluster)
    assert result.changed
    assert sorted(n["Hostname"] for n in node_list(cluster)) == sorted(
        m.name for m in cluster.machines
    )
    steps: list[str] = []

    def take_out(c: LocalCluster, leaving: Sequence[Machine]) -> None:
        outcome = converge(SPEC, inventory_of(c, leaving), local_machine=True)
        steps.extend(s.action for s in outcome.plan.steps)

    cluster = local_cluster_factory(1, 1, before_remove=take_out)
    for action in ("drain", "demote", "leave", "remove"):
        assert action in steps
    result = form(cluster)
    assert result.changed is False
    listed = node_list(cluster)
    assert sorted(n["Hostname"] for n in listed) == sorted(m.name for m in cluster.machines)
    assert all(n["Status"] == "Ready" for n in listed), listed
    # Back to the shape the other tests expect.
    form(local_cluster_factory(3, 2))
