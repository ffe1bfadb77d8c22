"""Host keys a node publishes and the CLI pins: the record, known_hosts, and a real sshd.

A node publishes its keys on its console (cloud-init's block on AWS, the agent's record line
on Azure); the CLI turns them into known_hosts lines before any SSH connection, and paramiko
then verifies the host strictly: the published key is accepted, any other key refused.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from swarmstack.errors import HostKeyMismatch
from swarmstack.known_hosts import (
    BadHostKeyRecord,
    host_keys_from_console,
    known_hosts_name,
    parse_host_key_record,
    pin_host_keys,
)
from swarmstack.provisioners.inventory import SshSettings
from swarmstack.provisioners.nodeagent import azure
from swarmstack.provisioners.nodeagent.azure import host_key_record
from swarmstack.provisioners.ssh import Connector

from .sshd import Sshd, keygen, running_sshd


def public_key(folder: Path, kind: str, name: str | None = None) -> str:
    """The "TYPE BASE64" of a fresh key of this kind (as a .pub file holds it, without the
    comment), named ``name``."""
    path = keygen(folder / (name or f"key_{kind}"), kind)
    return " ".join(Path(f"{path}.pub").read_text().split()[:2])


# --- the record ----------------------------------------------------------------------------


def host_key_files(monkeypatch: pytest.MonkeyPatch, *paths: Path | str) -> None:
    """The Azure node agent reads these instead of /etc/ssh/ssh_host_*_key.pub."""
    monkeypatch.setattr(azure, "HOST_KEY_FILES", tuple(f"{path}.pub" for path in paths))


def test_the_agents_record_holds_the_host_key_files_ed25519_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ed25519 = keygen(tmp_path / "ssh_host_ed25519_key", "ed25519")
    ecdsa = keygen(tmp_path / "ssh_host_ecdsa_key", "ecdsa")
    host_key_files(monkeypatch, ed25519, tmp_path / "ssh_host_missing_key", ecdsa)
    record = host_key_record()
    files = [Path(f"{path}.pub").read_text().split()[:2] for path in (ed25519, ecdsa)]
    assert parse_host_key_record(record) == [tuple(fields) for fields in files]


def test_no_host_key_is_an_error_not_an_empty_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host_key_files(monkeypatch, tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="no SSH host key"):
        host_key_record()


def cloud_init_block(*keys: str) -> str:
    """What cloud-init's keys_to_console prints (keys in /etc/ssh glob order, with comments)."""
    lines = [f"{key} root@ip-10-0-1-5" for key in keys]
    return "\n".join(
        ["-----BEGIN SSH HOST KEY KEYS-----", *lines, "-----END SSH HOST KEY KEYS-----"]
    )


def test_the_console_block_cloud_init_printed_becomes_the_record(tmp_path: Path) -> None:
    rsa, ecdsa, ed25519, other = (
        public_key(tmp_path, kind, f"k{n}")
        for n, kind in enumerate(("rsa", "ecdsa", "ed25519", "ed25519"))
    )
    console = "\r\n".join(
        [
            "[    0.000000] Linux version 6.1.0-26-cloud-amd64",
            "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----",
            "ec2: 256 SHA256:abc root@ip-10-0-1-5 (ED25519)",
            "ec2: -----END SSH HOST KEY FINGERPRINTS-----",
            cloud_init_block(ecdsa, other),  # an earlier boot's keys
            cloud_init_block(ecdsa, ed25519, rsa),  # this boot's (a reboot prints them again)
            "Cloud-init v. 22.4.2 finished at Wed, 02 Dec 2026 00:31:02 +0000.",
        ]
    )
    # ed25519 first (paramiko asks for the first type); rsa is not pinned.
    assert host_keys_from_console(console) == f"{ed25519},{ecdsa}"
    # A block still being printed (no end line yet) does not count; the last whole one does.
    cut = console[: console.rindex("-----END SSH HOST KEY KEYS-----")]
    assert host_keys_from_console(cut) == f"{other},{ecdsa}"
    assert host_keys_from_console("[    0.0] Linux\n-----BEGIN SSH HOST KEY KEYS-----") is None
    assert host_keys_from_console("") is None


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", "not a host key"),
        ("ssh-ed25519", "not a host key"),
        ("ssh-ed25519 AAAA AAAA", "not a host key"),
        ("ssh-ed25519 not*base64", "not base64"),
        # A line break would smuggle a line for another host into known_hosts.
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n10.0.0.9 ssh-ed25519 AAAA", "not a host key"),
    ],
)
def test_a_record_that_is_not_host_keys_is_refused(record: str, problem: str) -> None:
    with pytest.raises(BadHostKeyRecord, match=problem):
        parse_host_key_record(record)


def test_a_key_whose_blob_names_another_type_is_refused(tmp_path: Path) -> None:
    ecdsa_blob = public_key(tmp_path, "ecdsa").split()[1]
    with pytest.raises(BadHostKeyRecord, match="another type"):
        parse_host_key_record(f"ssh-ed25519 {ecdsa_blob}")


# --- known_hosts ---------------------------------------------------------------------------


def test_pinned_keys_are_what_paramiko_looks_up(tmp_path: Path) -> None:
    key = public_key(tmp_path, "ed25519")
    path = tmp_path / "cluster" / "known_hosts"
    names = [known_hosts_name("10.0.1.5"), known_hosts_name("198.18.0.10", 50000)]
    assert names == ["10.0.1.5", "[198.18.0.10]:50000"]
    lines = pin_host_keys(path, dict.fromkeys(names, key))
    assert lines == [f"{name} {key}" for name in sorted(names)]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    host_keys = paramiko.HostKeys(str(path))
    for name in names:
        found = host_keys.lookup(name)
        assert found is not None
        assert found["ssh-ed25519"].get_base64() == key.split()[1]


def test_pinning_replaces_the_names_old_keys_and_keeps_the_rest(tmp_path: Path) -> None:
    old, new, other = (public_key(tmp_path, "ed25519", f"k{n}") for n in range(3))
    hashed = paramiko.HostKeys.hash_host("10.0.1.7")
    path = tmp_path / "known_hosts"
    path.write_text(
        "# the user's own note\n"
        f"10.0.1.5,build.example {old}\n"  # one of its names is re-pinned
        f"{hashed} {old}\n"  # a hashed line for a re-pinned name
        f"10.0.9.9 {other}\n"
    )
    pin_host_keys(path, {"10.0.1.5": new, "10.0.1.7": new})
    assert path.read_text() == (
        "# the user's own note\n"
        f"build.example {old}\n"
        f"10.0.9.9 {other}\n"
        f"10.0.1.5 {new}\n"
        f"10.0.1.7 {new}\n"
    )


def test_a_bad_record_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("10.0.9.9 ssh-ed25519 AAAA\n")
    good = public_key(tmp_path, "ed25519")
    with pytest.raises(BadHostKeyRecord):
        pin_host_keys(path, {"10.0.1.5": good, "10.0.1.6": "ssh-rsa AAAA"})
    assert path.read_text() == "10.0.9.9 ssh-ed25519 AAAA\n"


# --- against a real sshd offering several host keys ----------------------------------------


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    # rsa and ecdsa are offered first, as a stock Debian sshd lists them.
    folder = tmp_path_factory.mktemp("sshd")
    with running_sshd(folder, more_host_keys=("rsa", "ecdsa")) as server:
        yield server


def connect(sshd: Sshd, known_hosts: Path) -> None:
    settings = SshSettings(
        known_hosts=known_hosts, user=sshd.user, key=sshd.user_key, port=sshd.port,
        connect_window=0.6,
    )  # fmt: skip
    connector = Connector(settings)
    try:
        connector.connect("127.0.0.1").close()
    finally:
        connector.close()


@pytest.mark.parametrize("published", [("ed25519",), ("ecdsa",), ("ed25519", "ecdsa")])
def test_the_published_key_is_verified_whichever_types_the_server_offers(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published: tuple[str, ...]
) -> None:
    """paramiko asks the server for the type known_hosts holds, so pinning one type is
    enough: no trust on first use, no fallback to a key the node did not publish."""
    host_key_files(monkeypatch, *(sshd.folder / f"host_{kind}" for kind in published))
    record = host_key_record()
    known_hosts = tmp_path / "known_hosts"
    pin_host_keys(known_hosts, {known_hosts_name("127.0.0.1", sshd.port): record})
    connect(sshd, known_hosts)


def test_a_host_presenting_another_key_than_it_published_is_refused(
    sshd: Sshd, tmp_path: Path
) -> None:
    impostor = public_key(tmp_path, "ed25519", "impostor")  # what the record says
    known_hosts = tmp_path / "known_hosts"
    pin_host_keys(known_hosts, {known_hosts_name("127.0.0.1", sshd.port): impostor})
    with pytest.raises(HostKeyMismatch, match=re.escape(sshd.host_key.fingerprint)):
        connect(sshd, known_hosts)
