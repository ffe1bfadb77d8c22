"""`azure deploy` hands its nodes to the SSH bootstrap through the first manager's NAT port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swarmstack.azure.discover import Discovery, Node
from swarmstack.azure.handoff import bootstrap_discovered_nodes
from swarmstack.handoff import CloudSsh, HandoffProgress
from swarmstack.provisioners.inventory import Host, SshSettings
from swarmstack.spec import ClusterSpec

NODES = (
    Node("manager", "prod-m0", "prod-managers_0", "1", "10.1.0.4", "198.51.100.7", 50000),
    Node("manager", "prod-m1", "prod-managers_1", "2", "10.1.0.5", "198.51.100.7", 50001),
    Node("worker", "prod-w0", "prod-workers_0", "1", "10.1.0.6", None, None),
)


def _handoff(
    monkeypatch: pytest.MonkeyPatch, discovery: Discovery, ssh: CloudSsh
) -> dict[str, Any]:
    handed: dict[str, Any] = {}

    def record(spec: ClusterSpec, hosts: list[Host], settings: SshSettings, _progress: Any) -> Any:
        handed.update(hosts=hosts, ssh=settings)
        return {"status": "recorded"}

    monkeypatch.setattr("swarmstack.azure.handoff.bootstrap_hosts", record)
    result = bootstrap_discovered_nodes(
        ClusterSpec.model_validate({"name": "prod"}), discovery, ssh, HandoffProgress()
    )
    return {"result": result, **handed}


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
    assert handed == {"result": {"status": "skipped", "reason": "no SSH route to a manager"}}
