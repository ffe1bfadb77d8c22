"""The node agent's Azure adapter against fake Azure endpoints on loopback (fake_node_cloud):
the calls the nodes really make, with the ARM template's role assignments enforced.

- the first-manager claim: a blob created with If-None-Match: *, so of two claimants one wins,
  and a stale lease is taken over as the next generation by exactly one;
- the join tokens in Key Vault, written and read only by the identities the template allows;
- a Terminate scheduled event: notice posted by the leaving node, drain and removal by the
  leader, then the event approved by the leaving node;
- published ports: a load-balancer rule, probe and security rule per service port.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from swarmstack.cloudinit import render_user_data
from swarmstack.provisioners.local.sim.azure.node_cloud import FakeNodeCloud, serve
from swarmstack.provisioners.nodeagent import decisions as d
from swarmstack.provisioners.nodeagent.azure import (
    AUTHORITY_ENV,
    BLOB_ENV,
    IMDS_ENV,
    MANAGEMENT_ENV,
    PLACEHOLDER,
    VAULT_ENV,
    AzureError,
    Cloud,
    LeavingWatcher,
    Metadata,
    keep_tokens,
)
from swarmstack.provisioners.nodeagent.engine import Engine
from swarmstack.provisioners.nodeagent.main import Booter, Healer, Settings, identity
from swarmstack.spec import ClusterSpec
from swarmstack.templates.azure import arm_template, resolve_settings

from ...fake_engines import FakeEngine, SwarmEngine

CLUSTER = "swarm"


@pytest.fixture
def fake(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNodeCloud]:
    settings = resolve_settings(
        ClusterSpec.model_validate({"name": CLUSTER, "published_ports": [80]}),
        require_ssh_key=False,
    )
    cert, key = tls_files
    cloud = FakeNodeCloud(arm_template(settings), CLUSTER, "swarmkvabc", "swarmstabc")
    with serve(cloud, cert, key) as running:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(VAULT_ENV, f"{running.service_url}/vault")
        monkeypatch.setenv(BLOB_ENV, f"{running.service_url}/blob")
        monkeypatch.setenv(MANAGEMENT_ENV, f"{running.service_url}/arm")
        yield running


def node_cloud(fake: FakeNodeCloud, name: str) -> Cloud:
    return Cloud(Metadata(fake.imds(name), fake.imds(name)))


# --- instance metadata through the endpoint variables ---------------------------------------


def test_identity_comes_from_instance_metadata_named_by_the_environment(
    fake: FakeNodeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_instance("manager", 3, "10.0.0.7", zone="2")
    monkeypatch.setenv(IMDS_ENV, fake.imds(f"{CLUSTER}-managers_3"))
    monkeypatch.setenv(AUTHORITY_ENV, fake.imds(f"{CLUSTER}-managers_3"))
    metadata = Metadata()
    me = identity(metadata)
    assert me == d.NodeIdentity(
        f"{CLUSTER}-managers_3", CLUSTER, "manager", "2", "westeurope", "10.0.0.7"
    )
    assert Cloud(metadata).self_managing
    assert metadata.token("https://vault.azure.net") in fake.tokens


# --- the atomic claim -------------------------------------------------------------------------


def test_of_two_claimants_exactly_one_gets_the_lease(fake: FakeNodeCloud) -> None:
    clouds = []
    for number in (0, 1):
        fake.add_instance("manager", number, f"10.0.0.{number + 4}")
        clouds.append(node_cloud(fake, f"{CLUSTER}-managers_{number}"))
    results: list[bool] = []
    start = threading.Barrier(2)

    def claim(cloud: Cloud, holder: str) -> None:
        start.wait()
        results.append(cloud.create_lease("init", d.Lease(1, holder, 1000.0)))

    threads = [
        threading.Thread(target=claim, args=(cloud, f"m{i}")) for i, cloud in enumerate(clouds)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    [lease] = clouds[0].leases("init")
    assert lease.generation == 1


def test_a_stale_lease_is_taken_over_by_exactly_one_manager(fake: FakeNodeCloud) -> None:
    for number in (0, 1, 2):
        fake.add_instance("manager", number, f"10.0.0.{number + 4}")
    dead = node_cloud(fake, f"{CLUSTER}-managers_0")
    assert dead.create_lease("init", d.Lease(1, "m0", 1000.0))
    later = 1000.0 + d.LEASE_STALE + 1
    takers = [node_cloud(fake, f"{CLUSTER}-managers_{n}") for n in (1, 2)]
    decisions = [
        d.lease_decision(t.leases("init"), f"m{n}", later)
        for n, t in zip((1, 2), takers, strict=True)
    ]
    assert [x.verdict for x in decisions] == ["take", "take"]
    won = [
        t.create_lease("init", d.Lease(2, f"m{n}", later))
        for n, t in zip((1, 2), takers, strict=True)
    ]
    assert won == [True, False]


def test_workers_may_read_but_never_write_the_swarms_state(fake: FakeNodeCloud) -> None:
    fake.add_instance("manager", 0, "10.0.0.4")
    fake.add_instance("worker", 0, "10.0.1.4")
    manager, worker = (
        node_cloud(fake, f"{CLUSTER}-managers_0"),
        node_cloud(fake, f"{CLUSTER}-workers_0"),
    )
    manager.put_swarm_record(d.SwarmRecord("cluster-1", ("10.0.0.4:2377",)))
    assert worker.swarm_record() == d.SwarmRecord("cluster-1", ("10.0.0.4:2377",))
    with pytest.raises(AzureError) as error:
        worker.create_lease("init", d.Lease(1, "w0", 1000.0))
    assert (error.value.status, error.value.code) == (403, "AuthorizationPermissionMismatch")


# --- the join tokens --------------------------------------------------------------------------


def test_tokens_are_stored_by_managers_and_read_only_by_the_right_identity(
    fake: FakeNodeCloud,
) -> None:
    fake.add_instance("manager", 0, "10.0.0.4")
    fake.add_instance("worker", 0, "10.0.1.4")
    manager, worker = (
        node_cloud(fake, f"{CLUSTER}-managers_0"),
        node_cloud(fake, f"{CLUSTER}-workers_0"),
    )
    with pytest.raises(AzureError, match="TokenNotStoredYet"):
        worker.token("worker")  # the template's placeholder is not a token
    manager.put_tokens({"worker": "SWMTKN-1-w", "manager": "SWMTKN-1-m"})
    assert (manager.token("manager"), manager.token("worker")) == ("SWMTKN-1-m", "SWMTKN-1-w")
    assert worker.token("worker") == "SWMTKN-1-w"
    with pytest.raises(AzureError) as error:
        worker.token("manager")
    assert (error.value.status, error.value.code) == (403, "Forbidden")
    assert "SWMTKN" not in str(error.value)
    with pytest.raises(AzureError):
        worker.put_tokens({"worker": "SWMTKN-1-forged"})
    assert fake.secrets["swarm-worker-token"] == [PLACEHOLDER, "SWMTKN-1-w"]


def test_the_boot_loop_forms_the_swarm_through_the_vault_and_blobs(fake: FakeNodeCloud) -> None:
    swarm: dict[str, Any] = {}
    booted = []
    for role, number, address in (
        ("manager", 0, "10.0.0.4"),
        ("manager", 1, "10.0.0.5"),
        ("worker", 0, "10.0.1.4"),
    ):
        name = f"{CLUSTER}-{role}s_{number}"
        fake.add_instance(role, number, address)
        cloud = node_cloud(fake, name)
        engine = SwarmEngine(name, swarm)
        Booter(
            identity(cloud.metadata), cast(Engine, engine), cloud, Settings(),
            clock=lambda: 1000.0, sleep=lambda seconds: None,
        ).run()  # fmt: skip
        booted.append(engine)
    assert [e.joined_with for e in booted] == [
        None,
        (("10.0.0.4:2377",), "SWMTKN-1-m"),
        (("10.0.0.4:2377",), "SWMTKN-1-w"),
    ]
    assert fake.denied == []


# --- leaving: a Terminate scheduled event ----------------------------------------------------


def test_a_terminate_event_ends_with_the_node_removed_and_the_event_approved(
    fake: FakeNodeCloud,
) -> None:
    fake.add_instance("manager", 0, "10.0.0.4")
    leaving = fake.add_instance("worker", 2, "10.0.1.6")
    worker_cloud = node_cloud(fake, leaving.name)
    watcher = LeavingWatcher(worker_cloud, leaving.name, leaving.address)
    assert watcher.tick() == "none"
    event = fake.schedule_terminate(leaving.name)
    assert watcher.tick() == "posted"
    assert watcher.tick() == "waiting"  # the leader has not been round yet

    node = d.SwarmNode(
        "node-w2", 5, "worker", "ready", "active", leaving.address,
        {"swarmstack.instance-id": leaving.name},
    )  # fmt: skip
    engine = FakeEngine([node])
    leader_cloud = node_cloud(fake, f"{CLUSTER}-managers_0")
    healer = Healer(
        identity(leader_cloud.metadata), cast(Engine, engine), leader_cloud, Settings(),
        resources=leader_cloud.resources(),
    )  # fmt: skip
    healer.handle_notices(leader_cloud.instances())
    assert engine.calls == ["update node-w2 {'Availability': 'drain'}", "remove node-w2"]
    assert fake.instances[leaving.name].approved == []  # only the leaving VM approves

    assert watcher.tick() == "approved"
    assert fake.instances[leaving.name].approved == [event]
    assert ("leaving", leaving.name) not in fake.blobs
    assert fake.denied == []


def test_a_manager_whose_removal_would_break_quorum_is_kept(fake: FakeNodeCloud) -> None:
    leader = fake.add_instance("manager", 0, "10.0.0.4")
    leaving = fake.add_instance("manager", 1, "10.0.0.5")
    fake.add_instance("manager", 2, "10.0.0.6")
    watcher = LeavingWatcher(node_cloud(fake, leaving.name), leaving.name, leaving.address)
    fake.schedule_terminate(leaving.name)
    assert watcher.tick() == "posted"
    engine = FakeEngine(
        [
            d.SwarmNode("m0", 1, "manager", "ready", "active", leader.address, {}, "reachable",
                        True),
            d.SwarmNode("m1", 1, "manager", "ready", "drain", leaving.address,
                        {"swarmstack.instance-id": leaving.name}, "reachable"),
            d.SwarmNode("m2", 1, "manager", "down", "active", "10.0.0.6", {}, "unreachable"),
        ]
    )  # fmt: skip
    cloud = node_cloud(fake, leader.name)
    healer = Healer(
        identity(cloud.metadata), cast(Engine, engine), cloud, Settings(),
        resources=cloud.resources(),
    )  # fmt: skip
    healer.handle_notices(cloud.instances())
    assert engine.calls == []  # the two left would have one reachable manager
    assert watcher.tick() == "waiting"


# --- published ports follow services ---------------------------------------------------------


def test_load_balancer_rules_and_probes_follow_published_services(fake: FakeNodeCloud) -> None:
    manager = fake.add_instance("manager", 0, "10.0.0.4")
    cloud = node_cloud(fake, manager.name)
    worker = d.SwarmNode("w", 1, "worker", "ready", "active", "10.0.1.4")
    engine = FakeEngine([worker], ports=[8080, 80])  # 80: a spec port, served by the template
    healer = Healer(
        identity(cloud.metadata), cast(Engine, engine), cloud, Settings(fixed_ports=[80]),
        resources=cloud.resources(),
    )  # fmt: skip
    lb_key = cloud.resources().load_balancer.lower()
    nsg_key = cloud.resources().load_balancer_group.lower()

    healer.follow_services()
    balancer = fake.arm[lb_key]["properties"]
    rules = {r["name"]: r["properties"] for r in balancer["loadBalancingRules"]}
    assert rules["svc-8080"]["frontendPort"] == 8080
    assert rules["svc-8080"]["backendAddressPool"]["id"].endswith("/backendAddressPools/apps")
    assert "svc-8080" in {p["name"] for p in balancer["probes"]}
    assert "tcp-80" in rules  # the spec's port stays as the template made it
    assert "svc-80" not in rules  # and is not doubled (Azure refuses two rules on port 80)
    security = {r["name"] for r in fake.arm[nsg_key]["properties"]["securityRules"]}
    assert "svc-8080" in security

    engine.ports = []
    healer.follow_services()
    balancer = fake.arm[lb_key]["properties"]
    assert "svc-8080" not in {r["name"] for r in balancer["loadBalancingRules"]}
    assert "svc-8080" not in {p["name"] for p in balancer["probes"]}
    assert "svc-8080" not in {r["name"] for r in fake.arm[nsg_key]["properties"]["securityRules"]}
    assert fake.denied == []


def test_a_workers_identity_cannot_change_the_load_balancer(fake: FakeNodeCloud) -> None:
    worker = fake.add_instance("worker", 0, "10.0.1.4")
    cloud = node_cloud(fake, worker.name)
    with pytest.raises(AzureError) as error:
        cloud.open_port(cloud.resources(), 8080, "worker")
    assert (error.value.status, error.value.code) == (403, "AuthorizationFailed")


def test_the_leader_restores_tokens_a_redeployment_reset(fake: FakeNodeCloud) -> None:
    manager = fake.add_instance("manager", 0, "10.0.0.4")
    cloud = node_cloud(fake, manager.name)
    engine = SwarmEngine(manager.name, {})
    assert keep_tokens(cast(Engine, engine), cloud) == ["manager", "worker"]
    assert keep_tokens(cast(Engine, engine), cloud) == []  # equal now: nothing written
    fake.secrets["swarm-worker-token"].append(PLACEHOLDER)  # the template deployed again
    assert keep_tokens(cast(Engine, engine), cloud) == ["worker"]
    assert fake.secrets["swarm-worker-token"][-1] == "SWMTKN-1-w"


# --- the agent as Azure custom data ships it ---------------------------------------------------


def install_custom_data_files(root: Path) -> None:
    """Write the Azure custom data's files under ``root`` as cloud-init would under /."""
    text = render_user_data(ClusterSpec.model_validate({}), "worker", "azure")
    for entry in yaml.safe_load(text)["write_files"]:
        path = root / entry["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry["content"])
        path.chmod(int(entry["permissions"], 8))


def run_shipped_agent(root: Path, command: str, imds: str) -> subprocess.CompletedProcess[str]:
    bin_dir = root / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$@" >>{root}/systemctl-calls\n')
    systemctl.chmod(0o755)
    script = (root / "usr/local/sbin/swarmstack-agent").read_text()
    module = script.split(" -m ", 1)[1].split()[0]
    return subprocess.run(
        ["/usr/bin/python3", "-m", module, command],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "PYTHONPATH": str(root / "usr/local/lib/swarmstack"),
            "NODE_AGENT_ROOT": str(root),
            IMDS_ENV: imds,
            AUTHORITY_ENV: imds,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_shipped_agent_reads_the_prune_tag_and_leaves_ssh_formed_clusters_alone(
    fake: FakeNodeCloud, tmp_path: Path
) -> None:
    install_custom_data_files(tmp_path)
    node = fake.add_instance("worker", 0, "10.0.1.4")
    node.tags.update({"swarmstack-system-prune": "yes", "swarmstack-vault": ""})
    configured = run_shipped_agent(tmp_path, "configure", fake.imds(node.name))
    assert configured.returncode == 0, configured.stderr
    assert (
        "enable --now swarmstack-docker-prune.timer" in (tmp_path / "systemctl-calls").read_text()
    )
    # `azure deploy` made this cluster (no vault tag): its swarm is formed over SSH.
    ran = run_shipped_agent(tmp_path, "run", fake.imds(node.name))
    assert ran.returncode == 0, ran.stderr
    assert "formed over SSH" in ran.stderr
    usage = run_shipped_agent(tmp_path, "bogus", fake.imds(node.name))
    assert usage.returncode == 2


def test_down_nodes_whose_instance_left_the_scale_set_are_swept(fake: FakeNodeCloud) -> None:
    leader = fake.add_instance("manager", 0, "10.0.0.4")
    fake.add_instance("worker", 0, "10.0.1.4")
    nodes = [
        d.SwarmNode("w0", 1, "worker", "down", "active", "10.0.1.4",
                    {"swarmstack.instance-id": f"{CLUSTER}-workers_0"}),
        d.SwarmNode("w7", 1, "worker", "down", "active", "10.0.1.9",
                    {"swarmstack.instance-id": f"{CLUSTER}-workers_7"}),  # deleted by hand
    ]  # fmt: skip
    engine = FakeEngine(nodes)
    cloud = node_cloud(fake, leader.name)
    now = [1000.0]
    healer = Healer(
        identity(cloud.metadata), cast(Engine, engine), cloud, Settings(), clock=lambda: now[0],
        resources=cloud.resources(),
    )  # fmt: skip
    healer.sweep(engine.nodes(), cloud.instances())
    assert engine.calls == []  # first seen Down: instances stop and start
    now[0] += d.SWEEP_GRACE + 1
    healer.sweep(engine.nodes(), cloud.instances())
    assert engine.calls == ["remove w7"]  # w0's instance still exists
