"""Inventory validation, facts parsing and secret redaction for the SSH bootstrap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmstack.errors import InventoryError
from swarmstack.provisioners.facts import parse_facts, parse_node_lines
from swarmstack.provisioners.inventory import inventory_from_data, load_inventory
from swarmstack.provisioners.ssh import redact

GOOD = {
    "ssh": {"user": "ops", "key": "./id_ed25519", "known_hosts": "./known_hosts", "port": 22},
    "hosts": [
        {"address": "198.18.0.11", "role": "manager", "zone": "a"},
        {"address": "198.18.0.14", "role": "worker"},
    ],
}


def test_inventory_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    inventory = inventory_from_data(GOOD, base=tmp_path)
    assert inventory.ssh.key == tmp_path / "id_ed25519"
    assert inventory.ssh.known_hosts == tmp_path / "known_hosts"
    assert inventory.ssh.trust_on_first_use is False
    assert [h.address for h in inventory.managers] == ["198.18.0.11"]
    assert inventory.host("198.18.0.14").advertise_address == "198.18.0.14"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hosts": [{"address": "198.18.0.11", "role": "master"}]}, "hosts[0].role: must be"),
        (
            {"hosts": [{"address": "198.18.0.11", "role": "manager", "colour": 1}]},
            "hosts[0].colour",
        ),
        ({"ssh": {"port": 70000}}, "ssh.port: must be a port"),
        ({"ssh": {"trust_on_first_use": "yes"}}, "ssh.trust_on_first_use"),
        ({"hosts": []}, "hosts: must be a non-empty list"),
        (
            {"hosts": [{"address": "198.18.0.11", "role": "manager"}] * 2},
            "hosts[1].address: 198.18.0.11 is already hosts[0]",
        ),
        (
            {
                "hosts": [
                    {"address": "198.18.0.11", "role": "manager"},
                    {"address": "198.18.0.12", "role": "manager"},
                ]
            },
            "2 managers: must be 1, 3, 5 or 7",
        ),
        ({"hosts": [{"address": "ops@host:22", "role": "manager"}]}, "hosts[0].address"),
        (
            {"hosts": [{"address": "m1.example.com", "role": "manager"}]},
            "hosts[0].private_address: needed when address is a DNS name",
        ),
    ],
)
def test_inventory_errors_name_the_key(change: dict[str, object], message: str) -> None:
    data = {**GOOD, **change}
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(data, base=Path("/"), source="inv.yaml")
    assert any(line.startswith("inv.yaml: ") and message in line for line in caught.value.problems)


def test_inventory_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("hosts: [\n")
    with pytest.raises(InventoryError, match="not valid YAML"):
        load_inventory(path)


def test_absent_hosts_do_not_count_as_managers() -> None:
    data = {
        **GOOD,
        "hosts": [*GOOD["hosts"], {"address": "198.18.0.12", "role": "manager", "state": "absent"}],
    }
    inventory = inventory_from_data(data, base=Path("/"))
    assert len(inventory.managers) == 1
    assert len(inventory.hosts) == 3


INFO = {
    "Name": "m1",
    "ServerVersion": "20.10.24",
    "Swarm": {
        "NodeID": "n1",
        "NodeAddr": "198.18.0.11",
        "LocalNodeState": "active",
        "ControlAvailable": True,
        "RemoteManagers": [{"NodeID": "n1", "Addr": "198.18.0.11:2377"}],
        "Cluster": {
            "ID": "c1",
            "Spec": {
                "CAConfig": {"NodeCertExpiry": 7776000000000000},
                "EncryptionConfig": {"AutoLockManagers": False},
            },
            "DefaultAddrPool": ["198.19.0.0/18"],
            "SubnetSize": 24,
            "DataPathPort": 4789,
        },
    },
}
# One node as `docker node inspect --format '{{json .}}'` prints it (the API's node object).
NODE = {
    "ID": "n1",
    "Version": {"Index": 31},
    "Spec": {"Labels": {"swarmstack.role": "manager"}, "Role": "manager", "Availability": "active"},
    "Description": {"Hostname": "m1"},
    "Status": {"State": "ready", "Addr": "198.18.0.11"},
    "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "198.18.0.11:2377"},
}


def test_parse_facts_of_a_manager() -> None:
    text = "\n".join(
        [
            "@@hostname",
            "m1",
            "@@active",
            "active",
            "@@tuning",
            '{"cloud": "generic", "role": "manager", "tuning": "abc123"}',
            "@@info",
            json.dumps(INFO),
            "@@nodes",
            json.dumps(NODE),
        ]
    )
    facts = parse_facts("198.18.0.11", text)
    assert facts.docker_running
    assert facts.is_manager
    assert (facts.swarm_state, facts.node_id, facts.cluster_id) == ("active", "n1", "c1")
    assert facts.cluster_settings["cert_expiry_hours"] == 2160
    assert facts.cluster_settings["data_path_port"] == 4789
    assert facts.tuning_digest == "abc123"
    assert facts.nodes is not None
    assert facts.nodes[0].leader
    assert facts.nodes[0].labels == {"swarmstack.role": "manager"}


def test_parse_facts_docker_down_and_missing() -> None:
    down = parse_facts("a", "@@hostname\nh\n@@active\ninactive\n@@tuning\n@@info\n\n")
    assert down.docker_installed
    assert not down.docker_running
    missing = parse_facts("a", "@@hostname\nh\n@@active\n@@tuning\n@@nodocker\n")
    assert not missing.docker_installed


def test_parse_facts_without_quorum_keeps_the_error() -> None:
    text = "\n".join(
        [
            "@@hostname",
            "m1",
            "@@info",
            json.dumps(INFO),
            "@@nodes",
            "Error response from daemon: The swarm does not have a leader.",
            "@@nodes-failed",
        ]
    )
    facts = parse_facts("198.18.0.11", text)
    assert facts.nodes is None
    assert "does not have a leader" in facts.nodes_error


def test_node_ls_lines() -> None:
    line = json.dumps(
        {
            "ID": "x",
            "Hostname": "w1",
            "Status": "Ready",
            "Availability": "Drain",
            "ManagerStatus": "",
        }
    )
    (node,) = parse_node_lines([line])
    assert (node.role, node.state, node.availability, node.ready) == (
        "worker",
        "ready",
        "drain",
        True,
    )


# GET /nodes as the Engine API answers it (docker 28; fields planning does not use left out).
API_NODES = [
    {
        "ID": "n1",
        "Version": {"Index": 31},
        "Spec": {
            "Labels": {"swarmstack.role": "manager"},
            "Role": "manager",
            "Availability": "drain",
        },
        "Description": {"Hostname": "m1", "Engine": {"EngineVersion": "28.5.1"}},
        "Status": {"State": "ready", "Addr": "198.18.0.11"},
        "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "198.18.0.11:2377"},
    },
    {
        "ID": "n2",
        "Version": {"Index": 40},
        "Spec": {"Labels": {}, "Role": "worker", "Availability": "active"},
        "Description": {"Hostname": "w1"},
        "Status": {"State": "down", "Message": "heartbeat failure", "Addr": "198.18.0.14"},
    },
]


def test_the_engine_api_node_list_reads_like_node_inspect() -> None:
    manager, worker = parse_node_lines([json.dumps(API_NODES)])
    spec = {**NODE["Spec"], "Availability": "drain"}  # type: ignore[dict-item]
    (inspected,) = parse_node_lines([json.dumps({**NODE, "Spec": spec})])
    assert manager == inspected
    assert (worker.id, worker.hostname, worker.role, worker.state, worker.labels) == (
        "n2",
        "w1",
        "worker",
        "down",
        {},
    )
    assert not worker.leader
    assert worker.reachability == ""


def test_parse_facts_with_the_node_list_from_the_engine_api() -> None:
    text = f"@@hostname\nm1\n@@info\n{json.dumps(INFO)}\n@@nodes\n{json.dumps(API_NODES)}\n"
    facts = parse_facts("198.18.0.11", text)
    assert facts.nodes is not None
    assert [n.hostname for n in facts.nodes] == ["m1", "w1"]
    assert facts.nodes[0].leader
    assert facts.nodes[0].reachable


def test_redact_blanks_tokens_and_unlock_keys() -> None:
    token = "SWMTKN-1-4hb6kiosrh1c2ozvu0whifmw7fszejomb6jm7b5d6ydogz8b1k-9ii6ninrhhk1z3qvmuuamu64g"
    key = "SWMKEY-1-abcDEF123+/="
    text = redact(f"join --token {token} failed; unlock with {key}")
    assert "4hb6" not in text
    assert "abcDEF" not in text
    assert "SWMTKN-1-<redacted>" in text


def test_the_example_inventory_is_valid() -> None:
    path = Path(__file__).parents[2] / "examples" / "inventory.yaml"
    inventory = load_inventory(path)
    assert len(inventory.managers) == 3
    assert inventory.ssh.trust_on_first_use is False
