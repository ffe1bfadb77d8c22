"""Generated SSH host keys: what cloud-init installs is what paramiko's known_hosts expects."""

from __future__ import annotations

import io
from pathlib import Path

import paramiko
import pytest

from swarmstack.cloudinit import generate_host_keys


def test_known_hosts_lines_verify_the_generated_key(tmp_path: Path) -> None:
    keys = generate_host_keys()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("\n".join(keys.known_hosts_lines(["10.0.1.5", "10.0.2.7"])) + "\n")

    host_keys = paramiko.HostKeys(str(known_hosts))
    server_key = paramiko.Ed25519Key.from_private_key(io.StringIO(keys.ed25519_private))
    for address in ("10.0.1.5", "10.0.2.7"):
        entry = host_keys.lookup(address)
        assert entry is not None
        assert entry["ssh-ed25519"] == server_key  # the key a host with these keys presents
    assert host_keys.lookup("10.0.1.6") is None  # no wildcard: other hosts stay unknown


def test_a_non_default_port_is_bracketed() -> None:
    keys = generate_host_keys()
    (line,) = keys.known_hosts_lines(["198.18.0.11"], port=2222)
    assert line.startswith("[198.18.0.11]:2222 ssh-ed25519 AAAA")


def test_every_call_makes_a_new_key_and_hides_the_private_half() -> None:
    first, second = generate_host_keys(), generate_host_keys()
    assert first.ed25519_public != second.ed25519_public
    assert first.ed25519_private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert first.ed25519_private not in repr(first)
    assert first.ed25519_public.endswith(" swarmstack")


def test_known_hosts_needs_a_host() -> None:
    with pytest.raises(ValueError, match="at least one host"):
        generate_host_keys().known_hosts_lines([])
