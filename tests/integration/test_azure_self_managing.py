"""The ARM template forms and heals its own swarm on the Azure simulation: the real template
deployed without swarmstack's deploy command, real cloud-init with the real custom data, the
node agent on real machines (issue 13's "done when").

The `azure_simulation` fixture (azure_simulation.py) deploys through the Azure SDK as a user
would (`az deployment group create`), scales and deletes instances through the SDK, and runs
commands on the instances' machines.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml
from click.testing import CliRunner, Result

from swarmstack.cli.main import cli
from swarmstack.spec import ClusterSpec

from .azure_simulation import AzureSimulation, SimDeployment
from .running import wait_until

FORM_TIMEOUT = 180.0


def _nodes(simulation: AzureSimulation, manager: str) -> list[dict[str, Any]]:
    out = simulation.run(manager, "docker node ls --format '{{json .}}'")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _nodes_or_none(simulation: AzureSimulation, manager: str) -> list[dict[str, Any]] | None:
    try:
        return _nodes(simulation, manager)
    except Exception:  # not a manager (yet), or docker not up yet
        return None


def _formed(
    simulation: AzureSimulation, deployment: SimDeployment, managers: int, total: int
) -> str:
    """Waits until a manager sees ``total`` Ready nodes with ``managers`` reachable managers;
    returns that manager's host name."""
    found: dict[str, str] = {}

    def formed() -> bool:
        for manager in deployment.instances("manager"):
            nodes = _nodes_or_none(simulation, manager)
            if nodes is None:
                continue
            ready = [n for n in nodes if n["Status"] == "Ready"]
            reachable = [n for n in nodes if n["ManagerStatus"] in ("Leader", "Reachable")]
            if len(nodes) == total and len(ready) == total and len(reachable) == managers:
                found["manager"] = manager
                return True
        return False

    try:
        wait_until(formed, FORM_TIMEOUT, f"{total} Ready nodes, {managers} reachable managers")
    except AssertionError as error:
        notes = "".join(simulation.diagnose(h) for h in deployment.instances()[:2])
        raise AssertionError(f"{error}{notes}") from None
    return found["manager"]


@contextmanager
def _quorum_watched(simulation: AzureSimulation, manager: str) -> Iterator[list[float]]:
    """Asks ``manager`` for the node list every second while the block runs; yields the
    lengths (s) of the spells in which it could not answer (no leader: quorum lost)."""
    spells: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        failing_since: float | None = None
        while not stop.is_set():
            answered = _nodes_or_none(simulation, manager) is not None
            now = time.monotonic()
            if answered and failing_since is not None:
                spells.append(now - failing_since)
                failing_since = None
            elif not answered and failing_since is None:
                failing_since = now
            stop.wait(1)
        if failing_since is not None:
            spells.append(time.monotonic() - failing_since)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield spells
    finally:
        stop.set()
        watcher.join()


@pytest.mark.parametrize(("manager_count", "worker_count"), [(1, 1), (3, 2)])
def test_a_plain_deployment_forms_its_swarm_without_swarmstack(
    azure_simulation: AzureSimulation, manager_count: int, worker_count: int
) -> None:
    """A template deployment only: M managers + W workers Ready, M reachable managers, and
    every node labelled with its instance by the leader."""
    deployment = azure_simulation.deploy(manager_count, worker_count)
    total = manager_count + worker_count
    manager = _formed(azure_simulation, deployment, manager_count, total)
    labelled = "docker node ls -q --filter node.label=swarmstack.instance-id"
    wait_until(
        lambda: len(azure_simulation.run(manager, labelled).split()) == total,
        60,
        "every node labelled with its instance",
    )
    hosts = {n["Hostname"] for n in _nodes(azure_simulation, manager)}
    assert hosts == set(deployment.instances())


def test_no_join_token_in_custom_data_outputs_or_command_lines(
    azure_simulation: AzureSimulation,
) -> None:
    """The tokens live only in the Key Vault: not in the custom data as cloud-init got it,
    the deployment's outputs, or any process's argv or environment."""
    deployment = azure_simulation.deploy(1, 1)
    manager = _formed(azure_simulation, deployment, 1, 2)
    tokens = azure_simulation.join_tokens(manager)
    assert all(t.startswith("SWMTKN-") for t in tokens.values())
    for host in deployment.instances():
        seen = azure_simulation.where_secrets_must_not_be(host)
        assert "SWMTKN" not in seen, f"a join token on {host}"
    assert "SWMTKN" not in json.dumps(deployment.outputs)


def test_two_more_workers_join_by_themselves(azure_simulation: AzureSimulation) -> None:
    deployment = azure_simulation.deploy(1, 1)
    manager = _formed(azure_simulation, deployment, 1, 2)
    azure_simulation.set_capacity("worker", 3)
    wait_until(lambda: len(deployment.instances("worker")) == 3, 300, "two more worker machines")
    _formed(azure_simulation, deployment, 1, 4)
    assert manager in deployment.instances("manager")


def test_scale_in_and_a_deleted_manager_leave_no_down_node(
    azure_simulation: AzureSimulation,
) -> None:
    """Scale-in by one worker and deleting one manager instance: their Terminate events let
    the leader drain, demote and remove them first; quorum holds; the scale set's replacement
    manager (capacity is kept by a re-PUT, as autoscale would) joins."""
    deployment = azure_simulation.deploy(3, 2)
    manager = _formed(azure_simulation, deployment, 3, 5)
    workers = deployment.instances("worker")
    azure_simulation.set_capacity("worker", 1)
    wait_until(
        lambda: (
            workers[-1] not in deployment.instances("worker")
            and len(_nodes(azure_simulation, manager)) == 4
        ),
        120,
        "the scaled-in worker's node to go",
    )
    assert all(n["Status"] == "Ready" for n in _nodes(azure_simulation, manager))
    managers = deployment.instances("manager")
    victim = next(m for m in managers if m != manager)
    started = time.monotonic()
    with _quorum_watched(azure_simulation, manager) as spells:
        azure_simulation.delete_instance(victim)
        wait_until(
            lambda: victim not in {n["Hostname"] for n in _nodes(azure_simulation, manager)},
            120,
            "the deleted manager's node to go",
        )
    print(f"manager {victim}: Terminate event to node gone in {time.monotonic() - started:.0f} s")
    # A leader election (the leaving manager may have led) takes a moment; lost quorum would
    # leave the managers without a leader until the replacement joined.
    assert max(spells, default=0.0) < 10, f"no leader for {max(spells):.0f} s"
    # A new leader lists every node as Unknown until its agent re-registers (swarmkit's
    # "moved to 'unknown' state due to leadership change"); Down would mean a node lost.
    nodes: list[dict[str, Any]] = []

    def all_ready() -> bool:
        nodes[:] = _nodes(azure_simulation, manager)
        states = {n["Hostname"]: n["Status"] for n in nodes}
        assert set(states.values()) <= {"Ready", "Unknown"}, states
        return set(states.values()) == {"Ready"}

    wait_until(all_ready, 30, "every remaining node Ready after the leadership change")
    assert sum(n["ManagerStatus"] in ("Leader", "Reachable") for n in nodes) == 2
    azure_simulation.set_capacity("manager", 3)
    _formed(azure_simulation, deployment, 3, 4)  # 3 managers and the one worker left


def test_a_published_port_gets_a_rule_and_probe_and_loses_them(
    azure_simulation: AzureSimulation,
) -> None:
    deployment = azure_simulation.deploy(1, 1)
    manager = _formed(azure_simulation, deployment, 1, 2)

    def rules() -> set[str]:
        balancer = azure_simulation.load_balancer()["properties"]
        return {r["name"] for r in balancer.get("loadBalancingRules") or []} | {
            p["name"] for p in balancer.get("probes") or []
        }

    # The published port is the service's, whether or not its image can be pulled (the
    # machines have no registry): the agent follows the services' endpoints.
    azure_simulation.run(
        manager,
        "docker service create -d --no-resolve-image --name web -p 8080:80 "
        "swarmstack/offline:latest",
    )
    wait_until(lambda: "svc-8080" in rules(), 60, "a rule and probe for 8080")
    azure_simulation.run(manager, "docker service rm web")
    wait_until(lambda: "svc-8080" not in rules(), 60, "the rule and probe of 8080 to go")


def test_azure_deploy_drives_the_simulation_without_ssh(
    azure_simulation: AzureSimulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`swarmstack azure deploy` over the by-hand deployment of the same spec: the same
    template, so no resource changes; it deploys it once more as its own deployment, waits
    until every node's serial console (boot diagnostics) says Ready, pins their host keys and
    prints the nodes - no SSH. The machines stay the ones the by-hand deployment booted."""
    deployment = azure_simulation.deploy(1, 1)
    _formed(azure_simulation, deployment, 1, 2)
    machines = deployment.instances()
    assert azure_simulation.urls is not None
    result, known_hosts = azure_deploy(azure_simulation, deployment, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["plan"]["resource_group"]["action"] == "no change"
    assert {r["action"] for r in out["plan"]["resources"]} == {"no change"}
    assert out["plan"]["deployment"] == "missing"  # the by-hand one has another name
    assert out["deployment"] == f"swarmstack-{deployment.group}"
    assert out["swarm"] == {"status": "ready", "nodes": 2}
    assert out["bootstrap"]["status"] == "skipped"
    assert sorted(n["name"] for n in out["nodes"]) == machines
    pinned = paramiko.HostKeys(str(known_hosts))
    for node in out["nodes"]:
        entry = pinned.lookup(node["private_ip"])
        assert entry is not None, node
        key = azure_simulation.run(node["name"], "cat /etc/ssh/ssh_host_ed25519_key.pub").split()
        assert entry["ssh-ed25519"].get_base64() == key[1]
    assert deployment.instances() == machines
    # Deployed again, it is up to date: nothing to confirm, nothing sent.
    again, _ = azure_deploy(azure_simulation, deployment, tmp_path, monkeypatch, "--no-wait")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["applied"] is False


def azure_deploy(
    simulation: AzureSimulation,
    deployment: SimDeployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *flags: str,
) -> tuple[Result, Path]:
    """The CLI against the simulation, with the spec the fixture deployed (local pools, the
    cluster's SSH key) and the simulation's client as the credential."""
    from azure.identity import ClientSecretCredential

    from swarmstack.provisioners.local import LocalCluster, keys
    from swarmstack.provisioners.local.sim.azure import local as azure_sim
    from swarmstack.provisioners.local.sim.azure import world
    from swarmstack.provisioners.local.sim.control import machine_spec

    urls = simulation.urls
    assert urls is not None
    cluster = LocalCluster.open(deployment.cluster)
    key = keys.ensure_key_pair(cluster.ssh_key_path, f"swarmstack-local-{deployment.cluster}")
    spec = machine_spec(
        ClusterSpec.model_validate(
            {
                "name": deployment.group,
                "manager_size": deployment.managers,
                "cluster_size": deployment.workers,
                "ssh_public_key": key,
                "region": world.LOCATION,
            }
        ),
        print,
    )
    spec_file = tmp_path / "cluster.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True)))
    known_hosts = tmp_path / "known_hosts"
    monkeypatch.setattr(
        "swarmstack.azure.credentials.default_credential",
        lambda cloud: ClientSecretCredential(
            world.TENANT,
            world.CLIENT_ID,
            world.CLIENT_SECRET,
            authority=urls.arm,
            disable_instance_discovery=True,
            connection_verify=urls.ca_bundle,
        ),
    )
    with azure_sim.sim_azure_environment(urls):
        result = CliRunner().invoke(
            cli,
            ["-o", "json", "azure", "deploy", "-g", deployment.group, "-f", str(spec_file),
             "--subscription", world.SUBSCRIPTION, "--arm-endpoint", urls.arm,
             "--poll-interval", "1", "--ready-timeout", "240", "--known-hosts", str(known_hosts),
             "--yes", *flags],
        )  # fmt: skip
    return result, known_hosts
