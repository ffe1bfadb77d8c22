"""Local SSH inputs are checked before any connection: known_hosts, the private key, the
bastion, and paramiko's own log noise. Each problem is one line that names the file or key."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import paramiko
import pytest
import yaml
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode, InventoryError, SshFileError
from swarmstack.output import Output
from swarmstack.provisioners.inventory import SshSettings, inventory_from_data
from swarmstack.provisioners.ssh import Connector
from swarmstack.provisioners.ssh_files import KnownHosts, load_private_key

from .sshd import free_port, keygen


@pytest.fixture(scope="module")
def host_key(tmp_path_factory: pytest.TempPathFactory) -> paramiko.PKey:
    return paramiko.Ed25519Key(filename=str(keygen(tmp_path_factory.mktemp("k") / "host")))


def line(name: str, key: paramiko.PKey) -> str:
    return f"{name} {key.get_name()} {key.get_base64()}\n"


def test_known_hosts_is_parsed_with_hashed_and_plain_names(
    tmp_path: Path, host_key: paramiko.PKey
) -> None:
    hashed = paramiko.HostKeys.hash_host("198.18.0.12")
    path = tmp_path / "known_hosts"
    path.write_text(
        "# comment\n\n"
        + line("198.18.0.11,[198.18.0.13]:2222", host_key)
        + line(hashed, host_key)
        + "198.18.0.14  sk-ssh-ed25519@openssh.com  AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
        + "@cert-authority *.example.com "
        + line("", host_key).lstrip()
    )
    keys = KnownHosts.load(path).host_keys
    for name in ("198.18.0.11", "[198.18.0.13]:2222", "198.18.0.12"):
        found = keys.lookup(name)
        assert found is not None, name
        assert found.get("ssh-ed25519") == host_key, name
    assert keys.lookup("198.18.0.14") is None  # a key type paramiko cannot check: unknown
    assert keys.lookup("198.18.0.15") is None


def test_a_missing_known_hosts_is_empty(tmp_path: Path) -> None:
    assert len(KnownHosts.load(tmp_path / "absent").host_keys) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("198.18.0.11 ssh-ed25519 not*base64!\n", "line 2: the 'ssh-ed25519' key is not valid"),
        ("198.18.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n", "line 2: the 'ssh-ed25519' key"),
        ("198.18.0.11 ssh-ed25519\n", "line 2: 2 fields, want 'host[,host...] key-type"),
        ("garbage\n", "line 2: 1 fields"),
        ("@revoked * ssh-ed25519 AAAA\n", "line 2: '@revoked' lines are not supported"),
    ],
)
def test_a_bad_known_hosts_line_is_one_error_naming_file_and_line(
    tmp_path: Path, host_key: paramiko.PKey, content: str, message: str
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(line("198.18.0.10", host_key) + content + line("198.18.0.12", host_key))
    with pytest.raises(SshFileError) as caught:
        KnownHosts.load(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"known_hosts file {path}, {message}")
    assert caught.value.exit_code == ExitCode.USAGE


def test_known_hosts_that_is_a_directory_or_not_text(tmp_path: Path) -> None:
    with pytest.raises(SshFileError, match="is a directory, not a known_hosts file"):
        KnownHosts.load(tmp_path)
    binary = tmp_path / "known_hosts"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SshFileError, match=r"not a text file"):
        KnownHosts.load(binary)


def test_private_key_problems_are_named_before_connecting(tmp_path: Path) -> None:
    key = keygen(tmp_path / "id_ed25519")
    assert load_private_key(key).get_name() == "ssh-ed25519"
    with pytest.raises(SshFileError, match=r"absent: does not exist"):
        load_private_key(tmp_path / "absent")
    with pytest.raises(SshFileError, match="is a directory"):
        load_private_key(tmp_path)
    with pytest.raises(SshFileError, match="not a private key") as caught:
        load_private_key(tmp_path / "id_ed25519.pub")
    assert caught.value.hint is not None
    assert ".pub" in caught.value.hint
    locked = tmp_path / "locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret-pass", "-f", str(locked)], check=True
    )
    with pytest.raises(SshFileError, match="protected by a passphrase") as caught:
        load_private_key(locked)
    assert "secret-pass" not in str(caught.value)


def test_the_connector_checks_local_files_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    for settings in (
        SshSettings(known_hosts=tmp_path, connect_window=60),
        SshSettings(known_hosts=tmp_path / "kh", key=tmp_path / "absent", connect_window=60),
    ):
        with pytest.raises(SshFileError):
            Connector(settings)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("known_hosts", "key", "message"),
    [
        ("garbage\n", None, "known_hosts, line 1: 1 fields"),
        (None, "absent_key", "absent_key: does not exist"),
    ],
)
def test_bootstrap_reports_a_bad_local_file_in_one_line(
    tmp_path: Path, known_hosts: str | None, key: str | None, message: str
) -> None:
    if known_hosts is not None:
        (tmp_path / "known_hosts").write_text(known_hosts)
    port = free_port()  # nothing listens there; the run must stop before trying
    inventory = {
        "ssh": {"known_hosts": "./known_hosts", "port": port, "connect_window": 60}
        | ({"key": f"./{key}"} if key else {}),
        "hosts": [{"address": "127.0.0.1", "role": "manager"}],
    }
    (tmp_path / "inv.yaml").write_text(yaml.safe_dump(inventory))
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["bootstrap", "-i", str(tmp_path / "inv.yaml"), "--plan"])
    assert time.monotonic() - started < 10
    assert result.exit_code == ExitCode.USAGE, result.output
    errors = [out for out in result.output.splitlines() if out.startswith("error:")]
    assert len(errors) == 1, result.output
    assert message in errors[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("bastion", "message"),
    [
        ("jump.example.com:²", "port must be a number 1-65535, not '²'"),
        ("jump.example.com:٢٢", "port must be a number 1-65535, not '٢٢'"),
        ("jump.example.com:", "port must be a number 1-65535, not ''"),
        ("jump.example.com:" + "9" * 5000, "port must be a number 1-65535"),
        ("jump.example.com:70000", "must be a port number 1-65535, not 70000"),
    ],
)
def test_a_bastion_port_must_be_ascii_digits(bastion: str, message: str, tmp_path: Path) -> None:
    data = {"ssh": {"bastion": bastion}, "hosts": [{"address": "198.18.0.11", "role": "manager"}]}
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(data, base=tmp_path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("inventory: ssh.bastion: ")
    assert message in caught.value.problems[0]
    assert len(caught.value.problems[0]) < 200


def test_a_bastion_with_a_port_parses() -> None:
    data = {
        "ssh": {"bastion": "ops@jump.example.com:2222"},
        "hosts": [{"address": "198.18.0.11", "role": "manager"}],
    }
    bastion = inventory_from_data(data, base=Path()).ssh.bastion
    assert bastion is not None
    assert (bastion.user, bastion.port) == ("ops", 2222)


@pytest.mark.parametrize("debug", [False, True])
def test_paramiko_logs_only_with_debug(debug: bool) -> None:
    paramiko_log = logging.getLogger("paramiko.transport")
    saved = logging.getLogger("paramiko").level
    try:
        Output(debug=debug).configure_logging()
        assert paramiko_log.isEnabledFor(logging.ERROR) is debug
    finally:
        logging.getLogger("paramiko").setLevel(saved)


def test_the_indexed_lookup_answers_as_paramiko_does(tmp_path: Path) -> None:
    keys = [paramiko.Ed25519Key(filename=str(keygen(tmp_path / f"k{n}"))) for n in range(3)]
    path = tmp_path / "known_hosts"
    path.write_text(
        line("198.18.0.11,198.18.0.12", keys[0])
        + line(paramiko.HostKeys.hash_host("198.18.0.11"), keys[1])  # a second, hashed line
        + line("[198.18.0.11]:2222", keys[2])
        + line("198.18.0.13", keys[1])
        + line("198.18.0.13", keys[2])  # same type twice: paramiko takes the first
    )
    ours = KnownHosts.load(path)
    names = ["198.18.0.11", "198.18.0.12", "[198.18.0.11]:2222", "198.18.0.13", "198.18.0.99"]

    def answers(host_keys: paramiko.HostKeys) -> list[list[str] | None]:
        found = [host_keys.lookup(name) for name in names]
        return [None if f is None else [k.get_base64() for k in f.values()] for f in found]

    assert answers(ours.host_keys) == answers(paramiko.HostKeys(str(path)))
    first = ours.host_keys.lookup("198.18.0.13")
    assert first is not None
    assert first["ssh-ed25519"] == keys[1]
    ours.record("198.18.0.99", keys[0])  # trust on first use: indexed as well as written
    assert answers(ours.host_keys) == answers(paramiko.HostKeys(str(path)))
    assert answers(ours.host_keys)[-1] == [keys[0].get_base64()]
