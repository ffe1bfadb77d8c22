"""Host keys on Azure: the node agent writes them on its serial console, `azure deploy` reads
the console through Resource Manager's boot diagnostics and pins exactly those keys before
its SSH hand-off; an instance that never writes them stops the deploy with a clear error.

The agent runs against the fake instance metadata (fake_node_cloud); what it writes to its
console file is what Azure would keep as the instance's serial log, served by the fake
Resource Manager (fake_azure) at the URL retrieveBootDiagnosticsData hands out.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import paramiko
import pytest

from swarmstack.azure.clients import AzureClients
from swarmstack.azure.discover import Discovery
from swarmstack.azure.status import cluster_status
from swarmstack.cli.azure_status import swarm_state
from swarmstack.errors import NodesSilent
from swarmstack.handoff import CloudSsh, HandoffProgress
from swarmstack.provisioners.local.sim.azure.node_cloud import FakeNodeCloud, serve
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure
from swarmstack.provisioners.nodeagent import azure
from swarmstack.provisioners.nodeagent.azure import CONSOLE_ENV, IMDS_ENV, Cloud, Metadata, run_node
from swarmstack.provisioners.nodeagent.main import Settings, identity
from swarmstack.spec import ClusterSpec
from swarmstack.templates.azure import arm_template, resolve_settings

from ..recorded_handoff import recording_bootstrap
from .test_deploy_flow import GROUP, deployment

CLUSTER = "flow"  # test_deploy_flow's spec


def boot_agent(
    node_cloud: FakeNodeCloud, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """Run the agent of instance ``name`` (a cluster `azure deploy` made: no vault tag) with
    fresh host keys; returns its console output and its ed25519 public key."""
    keys = tmp_path / name
    keys.mkdir()
    files = []
    for kind in ("ed25519", "ecdsa"):
        path = keys / f"ssh_host_{kind}_key"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
        files.append(f"{path}.pub")
    monkeypatch.setattr(azure, "HOST_KEY_FILES", tuple(files))
    console = keys / "console"
    monkeypatch.setenv(IMDS_ENV, node_cloud.imds(name))
    monkeypatch.setenv(CONSOLE_ENV, str(console))
    assert run_node("run", Settings()) == 0  # not self-managing: keys published, then done
    ed25519 = " ".join(Path(files[0]).read_text().split()[:2])
    return console.read_text(), ed25519


@pytest.fixture
def node_cloud(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Any:
    settings = resolve_settings(
        ClusterSpec.model_validate({"name": CLUSTER}), require_ssh_key=False
    )
    cert, key = tls_files
    fake = FakeNodeCloud(arm_template(settings), CLUSTER, vault="", storage="")
    with serve(fake, cert, key) as running:
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield running


def deployed(clients: AzureClients) -> tuple[Any, Discovery]:
    flow = deployment(clients)
    flow.deploy(flow.plan(), 0)
    return flow, flow.discover()


def test_deploy_pins_exactly_the_keys_each_instance_wrote_on_its_console(
    fake_azure: FakeAzure,
    clients: AzureClients,
    node_cloud: FakeNodeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow, discovery = deployed(clients)
    published = {}
    for node in discovery.nodes:
        name = f"{node.scale_set}_{node.instance_id}"
        node_cloud.add_instance(node.role, int(node.instance_id), node.private_ip)
        console, key = boot_agent(node_cloud, name, tmp_path, monkeypatch)
        assert console.count("\nswarmstack-node {") == 1
        fake_azure.serial_logs[(node.scale_set, node.instance_id)] = (
            "[    0.000000] Linux version 6.1.0-26-cloud-amd64\n" + console + "login: "
        )
        published[node.private_ip] = key

    handed = recording_bootstrap(monkeypatch, "azure")
    known_hosts = tmp_path / "known_hosts"
    ssh = CloudSsh(user=None, key=None, known_hosts=known_hosts, trust_on_first_use=False)
    notes: list[str] = []
    result = flow.bootstrap(discovery, ssh, HandoffProgress(info=notes.append))

    assert result == {"status": "recorded"}
    assert f"pinned the published host keys of 2 node(s) in {known_hosts}" in notes
    pinned = paramiko.HostKeys(str(known_hosts))
    [manager] = discovery.managers
    assert manager.ssh_port  # the bastion hop: the manager's NAT port
    names = {manager.private_ip: manager.private_ip}
    names[f"[{manager.ssh_host}]:{manager.ssh_port}"] = manager.private_ip
    names.update({w.private_ip: w.private_ip for w in discovery.workers})
    for name, address in names.items():
        entry = pinned.lookup(name)
        assert entry is not None, name
        assert f"ssh-ed25519 {entry['ssh-ed25519'].get_base64()}" == published[address]
        assert set(entry.keys()) == {"ssh-ed25519", "ecdsa-sha2-nistp256"}
    assert handed["known_hosts"] == known_hosts.read_text()  # pinned before any connection


def test_an_instance_that_never_writes_its_keys_stops_the_deploy_before_ssh(
    fake_azure: FakeAzure,
    clients: AzureClients,
    node_cloud: FakeNodeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow, discovery = deployed(clients)
    [manager] = discovery.managers
    node_cloud.add_instance("manager", int(manager.instance_id), manager.private_ip)
    console, _ = boot_agent(
        node_cloud, f"{manager.scale_set}_{manager.instance_id}", tmp_path, monkeypatch
    )
    fake_azure.serial_logs[(manager.scale_set, manager.instance_id)] = console
    # The worker's console has boot noise only (an image without the agent, or a hung boot).
    [worker] = discovery.workers
    fake_azure.serial_logs[(worker.scale_set, worker.instance_id)] = "[    0.0] Linux\n"
    handed = recording_bootstrap(monkeypatch, "azure")
    ssh = CloudSsh(user=None, key=None, known_hosts=tmp_path / "kh", trust_on_first_use=False)
    with pytest.raises(NodesSilent, match=f"1 of 2 node.*within 0s: {worker.scale_set}_0"):
        flow.bootstrap(discovery, ssh, HandoffProgress(), host_keys_timeout=0)
    assert handed == {}  # no SSH at all
    assert not (tmp_path / "kh").exists()

    # With --trust-on-first-use the silent worker's key is left to the first connection.
    tofu = CloudSsh(user=None, key=None, known_hosts=tmp_path / "kh", trust_on_first_use=True)
    warnings: list[str] = []
    assert flow.bootstrap(discovery, tofu, HandoffProgress(warn=warnings.append)) == {
        "status": "recorded"
    }
    assert warnings == [f"{worker.name}: host keys not pinned (no host keys published yet)"]
    assert handed["known_hosts"].count(" ssh-ed25519 ") == 2  # the manager's two names


def test_status_lists_each_node_as_its_console_reports_it(
    fake_azure: FakeAzure,
    clients: AzureClients,
    node_cloud: FakeNodeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, discovery = deployed(clients)
    [manager], [worker] = discovery.managers, discovery.workers
    # The manager's agent formed the swarm itself (a template deployment's node): Ready.
    name = f"{manager.scale_set}_{manager.instance_id}"
    publish(fake_azure, node_cloud, manager, tmp_path, monkeypatch, ready=True)
    # The worker has written nothing yet.

    status = cluster_status(clients, GROUP, CLUSTER)
    rows = {row["instance"]: row for row in status["nodes"]}
    assert rows[name]["ready"] is True
    assert rows[name]["host_keys"].startswith("ssh-ed25519 ")
    assert (rows[name]["role"], rows[name]["address"]) == ("manager", manager.private_ip)
    silent = rows[f"{worker.scale_set}_{worker.instance_id}"]
    assert (silent["recorded"], silent["ready"], silent["host_keys"]) == (False, None, None)
    assert [swarm_state(rows[i]) for i in sorted(rows)] == ["Ready", "no record"]


def publish(
    fake_azure: FakeAzure,
    node_cloud: FakeNodeCloud,
    node: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    ready: bool,
) -> str:
    """What a self-managing node's agent writes on its console: its record with fresh host
    keys, first not Ready, then (``ready``) Ready. Returns its ed25519 public key."""
    name = f"{node.scale_set}_{node.instance_id}"
    node_cloud.add_instance(node.role, int(node.instance_id), node.private_ip)
    folder = tmp_path / name
    folder.mkdir()
    key = folder / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    monkeypatch.setattr(azure, "HOST_KEY_FILES", (f"{key}.pub",))
    monkeypatch.setenv(CONSOLE_ENV, str(folder / "console"))
    metadata = Metadata(node_cloud.imds(name))
    me = identity(metadata)
    Cloud(metadata).publish_node(me, ready=False)
    if ready:
        Cloud(metadata).publish_node(me, ready=True)
    fake_azure.serial_logs[(node.scale_set, node.instance_id)] = (folder / "console").read_text()
    return " ".join(Path(f"{key}.pub").read_text().split()[:2])


def test_deploy_waits_for_every_node_ready_and_pins_its_keys_without_ssh(
    fake_azure: FakeAzure,
    clients: AzureClients,
    node_cloud: FakeNodeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow, discovery = deployed(clients)
    keys = {
        node.private_ip: publish(fake_azure, node_cloud, node, tmp_path, monkeypatch, ready=True)
        for node in discovery.nodes
    }
    handed = recording_bootstrap(monkeypatch, "azure")
    known_hosts = tmp_path / "known_hosts"
    ssh = CloudSsh(user=None, key=None, known_hosts=known_hosts, trust_on_first_use=False)
    records = flow.wait_for_swarm(discovery, ssh, HandoffProgress(), timeout=0)

    assert sorted(r.role for r in records.values()) == ["manager", "worker"]
    assert all(r.ready for r in records.values())
    pinned = paramiko.HostKeys(str(known_hosts))
    for address, key in keys.items():
        entry = pinned.lookup(address)
        assert entry is not None
        assert f"ssh-ed25519 {entry['ssh-ed25519'].get_base64()}" == key
    assert handed == {}  # no SSH


def test_deploy_names_the_nodes_not_ready_in_time(
    fake_azure: FakeAzure,
    clients: AzureClients,
    node_cloud: FakeNodeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow, discovery = deployed(clients)
    [manager], [worker] = discovery.managers, discovery.workers
    publish(fake_azure, node_cloud, manager, tmp_path, monkeypatch, ready=True)
    publish(fake_azure, node_cloud, worker, tmp_path, monkeypatch, ready=False)  # still joining
    ssh = CloudSsh(user=None, key=None, known_hosts=tmp_path / "kh", trust_on_first_use=False)
    silent = f"{worker.scale_set}_{worker.instance_id}"
    with pytest.raises(NodesSilent, match=f"1 of 2 node.*Ready in the swarm within 0s: {silent}"):
        flow.wait_for_swarm(discovery, ssh, HandoffProgress(), timeout=0)
    assert not (tmp_path / "kh").exists()  # nothing pinned from a half-formed swarm
