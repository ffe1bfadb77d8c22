"""Host keys on AWS against a moto server: what an instance's console shows is what the CLI
pins before its SSH hand-off, and an instance that shows none stops it (no trust on first use).

cloud-init prints the host's public keys on the console at boot; the CLI reads the console
with GetConsoleOutput. moto answers every instance with one canned Xen boot log, so the
correction in swarmstack.provisioners.local.sim.corrections serves each instance's own
console (INSTANCE_CONSOLES), as AWS does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import paramiko
import pytest

from swarmstack.aws import stack_template
from swarmstack.aws.console import console_host_keys
from swarmstack.aws.discovery import Node
from swarmstack.aws.handoff import bootstrap_discovered_nodes
from swarmstack.aws.session import AwsSettings
from swarmstack.aws.stack_flow import StackDeployment
from swarmstack.errors import NodesSilent
from swarmstack.handoff import CloudSsh, HandoffProgress
from swarmstack.provisioners.local.sim import corrections
from swarmstack.spec import ClusterSpec

from .recorded_handoff import recording_bootstrap
from .test_aws_stack import small_template

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def consoles(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(
        stack_template, "render_body", lambda spec: json.dumps(small_template(spec))
    )
    fresh: dict[str, str] = {}
    monkeypatch.setattr(corrections, "INSTANCE_CONSOLES", fresh)
    return fresh


def launched(name: str, workers: int) -> list[Node]:
    spec = ClusterSpec.model_validate({"name": name, "manager_size": 1, "cluster_size": workers})
    deployment = StackDeployment.start(spec, "launch", AwsSettings(region=REGION))
    proposal = deployment.propose()
    assert deployment.watch(deployment.execute(proposal)).succeeded
    return deployment.settled(proposal)[1]


def boot_console(folder: Path) -> tuple[str, list[str]]:
    """A console as cloud-init leaves it, with fresh host keys; and those keys, ed25519 first."""
    folder.mkdir()
    keys = {}
    for kind in ("ecdsa", "ed25519", "rsa"):  # /etc/ssh/ssh_host_*_key.pub glob order
        path = folder / f"ssh_host_{kind}_key"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
        keys[kind] = Path(f"{path}.pub").read_text().strip()
    console = "\r\n".join(
        [
            "[    0.000000] Linux version 6.1.0-26-cloud-amd64 (debian-kernel@lists.debian.org)",
            "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----",
            "ec2: 256 SHA256:0000 root@ip-10-0-1-5 (ED25519)",
            "ec2: -----END SSH HOST KEY FINGERPRINTS-----",
            "-----BEGIN SSH HOST KEY KEYS-----",
            *keys.values(),
            "-----END SSH HOST KEY KEYS-----",
            "Cloud-init v. 22.4.2 finished at Wed, 02 Dec 2026 00:31:02 +0000. Up 41.06 seconds",
        ]
    )
    pinned = [" ".join(keys[kind].split()[:2]) for kind in ("ed25519", "ecdsa")]
    return console, pinned


def test_the_cli_pins_exactly_the_keys_each_console_shows(
    consoles: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = launched("keys", workers=1)
    ec2 = boto3.client("ec2", region_name=REGION)
    assert [console_host_keys(ec2, n.instance_id) for n in nodes] == [None, None]  # moto's log
    published = {}
    for node in nodes:
        consoles[node.instance_id], published[node.instance_id] = boot_console(
            tmp_path / node.instance_id
        )
        assert console_host_keys(ec2, node.instance_id) == ",".join(published[node.instance_id])

    handed = recording_bootstrap(monkeypatch, "aws")
    known_hosts = tmp_path / "known_hosts"
    ssh = CloudSsh(user=None, key=None, known_hosts=known_hosts, trust_on_first_use=False)
    notes: list[str] = []
    result = bootstrap_discovered_nodes(
        ClusterSpec.model_validate({"name": "keys"}),
        nodes,
        ssh,
        HandoffProgress(info=notes.append),
        lambda instance: console_host_keys(ec2, instance),
    )
    assert result == {"status": "recorded"}
    assert notes == [f"pinned the published host keys of 2 node(s) in {known_hosts}"]
    assert handed["known_hosts"] == known_hosts.read_text()  # pinned before any connection
    expected = [
        f"{address} {key}"
        for node in nodes
        for address in (node.public_ip, node.private_ip)
        if address
        for key in published[node.instance_id]
    ]
    assert sorted(known_hosts.read_text().splitlines()) == sorted(expected)
    lookup = paramiko.HostKeys(str(known_hosts))
    for node in nodes:
        assert node.private_ip is not None
        entry = lookup.lookup(node.private_ip)
        assert entry is not None
        assert list(entry.keys()) == ["ssh-ed25519", "ecdsa-sha2-nistp256"]  # asked for first
        assert f"ssh-ed25519 {entry['ssh-ed25519'].get_base64()}" == published[node.instance_id][0]


def test_an_instance_whose_console_shows_no_keys_stops_the_hand_off(
    consoles: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, worker = launched("silent", workers=1)
    consoles[manager.instance_id], _ = boot_console(tmp_path / "manager")
    ec2 = boto3.client("ec2", region_name=REGION)
    handed = recording_bootstrap(monkeypatch, "aws")
    spec = ClusterSpec.model_validate({"name": "silent"})
    known_hosts = tmp_path / "known_hosts"
    ssh = CloudSsh(user=None, key=None, known_hosts=known_hosts, trust_on_first_use=False)
    said: list[str] = []
    with pytest.raises(NodesSilent, match=f"1 of 2 node.*keys within 0s: {worker.instance_id}$"):
        bootstrap_discovered_nodes(
            spec,
            [manager, worker],
            ssh,
            HandoffProgress(info=said.append),
            lambda instance: console_host_keys(ec2, instance),
            host_keys_timeout=0,
        )
    assert handed == {}  # no SSH at all
    assert not known_hosts.exists()

    # --trust-on-first-use: the silent worker's key is left to its first connection.
    tofu = CloudSsh(user=None, key=None, known_hosts=known_hosts, trust_on_first_use=True)
    warnings: list[str] = []
    bootstrap_discovered_nodes(
        spec,
        [manager, worker],
        tofu,
        HandoffProgress(warn=warnings.append),
        lambda instance: console_host_keys(ec2, instance),
    )
    assert warnings == [f"{worker.instance_id}: host keys not pinned (no host keys published yet)"]
    assert manager.private_ip is not None
    assert manager.private_ip in handed["known_hosts"]
    assert worker.private_ip not in handed["known_hosts"].split()
