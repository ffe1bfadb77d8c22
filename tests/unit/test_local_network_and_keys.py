"""Pure pieces of the local machines' network and SSH files."""

from __future__ import annotations

from pathlib import Path

from swarmstack.provisioners.local import keys, network
from swarmstack.provisioners.local.plan import plan_scale


def test_forward_rules_accept_only_bridge_to_bridge_and_drop_the_rest() -> None:
    rules = network._forward_rules("ssbr3", "demo")
    assert [rule[-1] for rule in rules] == ["ACCEPT", "DROP", "DROP"]
    accept, drop_in, drop_out = rules
    assert accept[:4] == ["-i", "ssbr3", "-o", "ssbr3"]
    assert drop_in[:2] == ["-i", "ssbr3"]
    assert "-o" not in drop_in
    assert drop_out[:2] == ["-o", "ssbr3"]
    assert "-i" not in drop_out
    # Every rule names its cluster, so teardown removes exactly its own.
    assert all("swarmstack-local:demo" in rule for rule in rules)


def test_interface_names_fit_the_kernels_15_characters() -> None:
    machine = plan_scale([], 7, 237, 255).add[-1]
    assert machine.address == "198.18.255.254"
    assert network.veth_name(255, machine) == "ssv255-254"
    assert len(network.veth_name(255, machine)) <= 15
    assert len(network.bridge_name(255)) <= 15


def test_known_hosts_and_ssh_config_pin_each_address(tmp_path: Path) -> None:
    m1, w1 = plan_scale([], 1, 1, 0).add
    text = keys.known_hosts_text([(m1, "ssh-ed25519 AAAAone"), (w1, "ssh-ed25519 AAAAtwo")])
    assert text == "198.18.0.11 ssh-ed25519 AAAAone\n198.18.0.12 ssh-ed25519 AAAAtwo\n"
    config = keys.ssh_config_text([m1], "swarmstack", tmp_path / "id", tmp_path / "kh")
    assert config.splitlines() == [
        "Host 198.18.0.11",
        "    User swarmstack",
        f"    IdentityFile {tmp_path / 'id'}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {tmp_path / 'kh'}",
        "    StrictHostKeyChecking yes",
    ]
