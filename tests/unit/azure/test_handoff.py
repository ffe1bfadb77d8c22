"""`azure deploy` hands its nodes to the SSH bootstrap through the first manager's NAT port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swarmstack.azure.discover import Discovery, Node
from swarmstack.azure.handoff import bootstrap_discovered_nodes
from swarmstack.azure.node_records import NodeRecord
from swarmstack.handoff import CloudSsh, HandoffProgress
from swarmstack.provisioners.inventory import Host, SshSettings
from swarmstack.spec import ClusterSpec

NODES = (
    Node("manager", "prod-m0", "0", "1", "10.1.0.4", "198.51.100.7", 50000, "prod-managers"),
    Node("manager", "prod-m1", "1", "2", "10.1.0.5", "198.51.100.7", 50001, "prod-managers"),
    Node("worker", "prod-w0", "0", "1", "10.1.0.6", None, None, "prod-workers"),
)
# Host keys as the nodes publish them (any valid ed25519 public keys).
KEYS = {
    "prod-managers_0": "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIGs1rOh6gVbqOvmLSmDlSZh5jB0m7u1iXJTOYpsmpPy0",
    "prod-managers_1": "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIPM5ZwKcYO7uH5sIuP1PIMu4bmpWbVe3oujDyEqsB7aC",
}


def _handoff(
    monkeypatch: pytest.MonkeyPatch,
    discovery: Discovery,
    ssh: CloudSsh,
    records: dict[str, NodeRecord] | None = None,
) -> dict[str, Any]:
    handed: dict[str, Any] = {}

    def record(spec: ClusterSpec, hosts: list[Host], settings: SshSettings, _progress: Any) -> Any:
        handed.update(hosts=hosts, ssh=settings)
        return {"status": "recorded"}

    monkeypatch.setattr("swarmstack.azure.handoff.bootstrap_hosts", record)
    warnings: list[str] = []
    result = bootstrap_discovered_nodes(
        ClusterSpec.model_validate({"name": "prod"}),
        discovery,
        ssh,
        HandoffProgress(warn=warnings.append),
        records or {},
    )
    return {"result": result, "warnings": warnings, **handed}


def test_every_node_is_reached_at_its_private_address_through_the_first_manager(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ssh = CloudSsh(user=None, key=None, known_hosts=tmp_path / "kh", trust_on_first_use=False)
    handed = _handoff(monkeypatch, Discovery("198.51.100.7", "docker", NODES), ssh)

    assert handed["result"] == {"status": "recorded"}
    assert [(h.address, h.role, h.zone) for h in handed["hosts"]] == [
        ("10.1.0.4", "manager", "1"),
        ("10.1.0.5", "manager", "2"),
        ("10.1.0.6", "worker", "1"),
    ]
    settings: SshSettings = handed["ssh"]
    assert settings.bastion is not None
    assert (settings.bastion.address, settings.bastion.port) == ("198.51.100.7", 50000)
    assert (settings.user, settings.known_hosts) == ("docker", tmp_path / "kh")
    assert not settings.trust_on_first_use


def test_without_a_manager_ssh_route_nothing_is_attempted(monkeypatch: pytest.MonkeyPatch) -> None:
    ssh = CloudSsh(user="ops", key=None, known_hosts=None, trust_on_first_use=True)
    workers_only = Discovery(None, "docker", NODES[2:])
    handed = _handoff(monkeypatch, workers_only, ssh)
    assert handed["result"] == {"status": "skipped", "reason": "no SSH route to a manager"}
    assert "hosts" not in handed


def test_the_published_host_keys_are_pinned_under_every_name_ssh_uses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "kh"
    ssh = CloudSsh(user=None, key=None, known_hosts=known_hosts, trust_on_first_use=False)
    records = {
        name: NodeRecord(name, "manager", "10.1.0.4", "1", ready=False, host_keys=key)
        for name, key in KEYS.items()
    }  # the worker has published nothing yet
    handed = _handoff(monkeypatch, Discovery("198.51.100.7", "docker", NODES), ssh, records)

    assert handed["result"] == {"status": "recorded"}  # pinned before the bootstrap ran
    first, second = KEYS["prod-managers_0"], KEYS["prod-managers_1"]
    assert known_hosts.read_text().splitlines() == [
        f"10.1.0.4 {first}",
        f"10.1.0.5 {second}",
        f"[198.51.100.7]:50000 {first}",  # the bastion hop: the NAT port of manager 0
        f"[198.51.100.7]:50001 {second}",
    ]
    assert handed["warnings"] == ["prod-w0: host keys not pinned (no host keys published yet)"]
