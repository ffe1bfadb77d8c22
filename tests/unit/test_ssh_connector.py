"""The SSH connector against a real OpenSSH sshd on loopback: host keys, retries, TOFU.

One sshd (module scope) answers on 127.0.0.1-3; each test writes its own known_hosts. Connect
windows are short so that failures are classified in about a second.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from swarmstack.errors import HostKeyMismatch, HostKeyUnknown, HostUnreachable, SshFileError
from swarmstack.provisioners import ssh
from swarmstack.provisioners.inventory import SshSettings
from swarmstack.provisioners.ssh import Connector, is_retryable

from .sshd import Sshd, free_port, keygen, running_sshd

ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
WINDOW = 0.6  # seconds: long enough for two or three attempts


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with running_sshd(tmp_path_factory.mktemp("sshd"), ADDRESSES) as server:
        yield server


def settings(sshd: Sshd, known_hosts: Path, **changes: Any) -> SshSettings:
    values: dict[str, Any] = {
        "known_hosts": known_hosts,
        "user": sshd.user,
        "key": sshd.user_key,
        "port": sshd.port,
        "connect_window": WINDOW,
    }
    values.update(changes)
    return SshSettings(**values)


def known_hosts_of(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text("".join(lines))
    return path


def test_a_known_host_key_is_accepted_and_commands_run(sshd: Sshd, tmp_path: Path) -> None:
    known = known_hosts_of(tmp_path, sshd.known_hosts_line("127.0.0.1"))
    connector = Connector(settings(sshd, known))
    connection = connector.connect("127.0.0.1")
    try:
        if connection.sudo:  # not root: Connection.run would wrap the command in sudo
            _, stdout, _ = connection.client.exec_command("cat")
            assert stdout.channel.recv_exit_status() == 0
        else:
            result = connection.run("cat; echo done", stdin="from stdin\n")
            assert result.stdout == "from stdin\ndone\n"
            assert result.exit_status == 0
    finally:
        connection.close()
        connector.close()
    assert known.read_text() == sshd.known_hosts_line("127.0.0.1")


def test_connections_write_without_nagle_and_acknowledge_at_once(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSH's handshake and sshd's replies are small writes: with Nagle on either side and
    delayed ACKs, each connection stalled ~40 ms twice (connect and first channel). Our
    writes go out at once, and (Linux) every read acknowledges at once."""
    quick_acks = 0
    if sys.platform == "linux":
        set_option = ssh._QuickAckSocket.setsockopt

        def counting(self: socket.socket, level: int, option: int, value: Any) -> None:
            nonlocal quick_acks
            quick_acks += option == socket.TCP_QUICKACK
            set_option(self, level, option, value)

        monkeypatch.setattr(ssh._QuickAckSocket, "setsockopt", counting)
    known = known_hosts_of(tmp_path, sshd.known_hosts_line("127.0.0.1"))
    connector = Connector(settings(sshd, known))
    connection = connector.connect("127.0.0.1")
    try:
        transport = connection.client.get_transport()
        assert transport is not None
        assert isinstance(transport.sock, socket.socket)  # no bastion: our own TCP socket
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert connection.client.exec_command("true")[1].channel.recv_exit_status() == 0
    finally:
        connection.close()
        connector.close()
    if sys.platform == "linux":
        assert quick_acks >= 4  # banner, key exchange, login, the command's answer


def test_an_unknown_host_is_refused_at_once(sshd: Sshd, tmp_path: Path) -> None:
    # 127.0.0.2 is not in known_hosts (only .1 is): no trust on first use, no retries.
    known = known_hosts_of(tmp_path, sshd.known_hosts_line("127.0.0.1"))
    retries: list[str] = []
    started = time.monotonic()
    with pytest.raises(HostKeyUnknown, match=r"127\.0\.0\.2:\d+: the host is not in"):
        Connector(settings(sshd, known, connect_window=30)).connect(
            "127.0.0.2", on_retry=retries.append
        )
    assert time.monotonic() - started < 5
    assert retries == []
    assert known.read_text() == sshd.known_hosts_line("127.0.0.1")


def test_a_different_key_for_the_host_is_refused_and_not_retried(
    sshd: Sshd, tmp_path: Path
) -> None:
    other = paramiko.Ed25519Key(filename=str(keygen(tmp_path / "impostor")))
    line = sshd.known_hosts_line("127.0.0.1", other)
    known = known_hosts_of(tmp_path, line)
    retries: list[str] = []
    started = time.monotonic()
    for tofu in (False, True):  # trust on first use never overrides a mismatch
        connector = Connector(settings(sshd, known, connect_window=30, trust_on_first_use=tofu))
        with pytest.raises(HostKeyMismatch) as caught:
            connector.connect("127.0.0.1", on_retry=retries.append)
        assert sshd.host_key.fingerprint in str(caught.value)
    assert time.monotonic() - started < 5
    assert retries == []
    assert known.read_text() == line


def test_nothing_listening_fails_fast_within_the_window(sshd: Sshd, tmp_path: Path) -> None:
    retries: list[str] = []
    closed_port = free_port()
    started = time.monotonic()
    with pytest.raises(HostUnreachable, match=r"no SSH connection to the host after \d+ attempts"):
        Connector(settings(sshd, tmp_path / "known_hosts")).connect(
            "127.0.0.1", closed_port, on_retry=retries.append
        )
    assert time.monotonic() - started < WINDOW + 1.0
    assert retries, "a refused connection is retried while the window lasts"


def test_a_silent_server_cannot_stretch_the_window(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Accepts TCP but never sends a banner: each attempt is cut to what is left of the window.
    monkeypatch.setattr(ssh, "ATTEMPT_FLOOR", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        with pytest.raises(HostUnreachable, match="no SSH connection"):
            Connector(settings(sshd, tmp_path / "known_hosts")).connect(
                "127.0.0.1", silent.getsockname()[1]
            )
    assert time.monotonic() - started < WINDOW + 0.3 + 1.0


def test_a_wrong_user_key_is_a_login_failure_not_a_firewall(sshd: Sshd, tmp_path: Path) -> None:
    known = known_hosts_of(tmp_path, sshd.known_hosts_line("127.0.0.1"))
    wrong = keygen(tmp_path / "not_authorized")
    started = time.monotonic()
    with pytest.raises(HostUnreachable, match=f"refused login as {sshd.user} with {wrong}") as e:
        Connector(settings(sshd, known, key=wrong)).connect("127.0.0.1")
    assert time.monotonic() - started < WINDOW + 1.5
    assert e.value.hint is not None
    assert "authorized_keys" in e.value.hint


def test_trust_on_first_use_records_the_key_in_a_private_file(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "new-cluster" / "known_hosts"  # neither the file nor its folder exists
    connector = Connector(settings(sshd, known, trust_on_first_use=True))
    connector.connect("127.0.0.1").close()
    connector.connect("127.0.0.1").close()  # now known: recorded once, not twice
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert known.read_text() == sshd.known_hosts_line("127.0.0.1")
    # The recorded entry is what a strict run then accepts (and what paramiko reads back).
    assert paramiko.HostKeys(str(known)).lookup(f"[127.0.0.1]:{sshd.port}") is not None
    Connector(settings(sshd, known)).connect("127.0.0.1").close()


def test_trust_on_first_use_appends_after_a_last_line_without_newline(
    sshd: Sshd, tmp_path: Path
) -> None:
    first = sshd.known_hosts_line("127.0.0.1")
    known = known_hosts_of(tmp_path, first.rstrip("\n"))
    Connector(settings(sshd, known, trust_on_first_use=True)).connect("127.0.0.2").close()
    assert known.read_text() == first + sshd.known_hosts_line("127.0.0.2")


def test_known_hosts_and_key_are_read_once_however_many_hosts_connect(
    sshd: Sshd, tmp_path: Path
) -> None:
    # Padding: 300 other hosts' keys, so a per-connection parse would also be slow.
    padding = [sshd.known_hosts_line(f"198.18.1.{n % 250}", sshd.host_key) for n in range(300)]
    lines = [sshd.known_hosts_line(a) for a in ADDRESSES]
    known = known_hosts_of(tmp_path, *padding, *lines)
    watched = {str(known), str(sshd.user_key)}
    opened: list[str] = []

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and _counting[0] and _is_watched(args[0], watched):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(audit)  # audit hooks cannot be removed: it counts only while enabled
    _counting[0] = True
    try:
        connector = Connector(settings(sshd, known))
        at_start = list(opened)
        addresses = [ADDRESSES[n % len(ADDRESSES)] for n in range(12)]
        with cf.ThreadPoolExecutor(4) as pool:
            for connection in pool.map(connector.connect, addresses):
                connection.close()
    finally:
        _counting[0] = False
    assert at_start.count(str(known)) == 1
    assert str(sshd.user_key) in at_start
    assert opened == at_start, "12 connections to 3 hosts opened no local SSH file again"


_counting = [False]


def _is_watched(path: object, watched: set[str]) -> bool:
    return isinstance(path, str | bytes | os.PathLike) and os.fsdecode(path) in watched


@pytest.mark.parametrize(
    "error",
    [
        paramiko.ssh_exception.NoValidConnectionsError(
            {("127.0.0.1", 22): ConnectionRefusedError(111, "Connection refused")}
        ),
        TimeoutError("timed out"),
        ConnectionResetError(104, "Connection reset by peer"),
        EOFError(),
        paramiko.SSHException("Error reading SSH protocol banner"),
        paramiko.AuthenticationException("Authentication failed."),  # keys not installed yet
        paramiko.ChannelException(2, "Connect failed"),  # a bastion cannot reach the host yet
    ],
    ids=type,
)
def test_boot_time_failures_are_retried(error: BaseException) -> None:
    assert is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        paramiko.PasswordRequiredException("private key file is encrypted"),
        ValueError("a bug, not the network"),
        KeyError("a bug"),
    ],
    ids=type,
)
def test_final_failures_are_not_retried(error: BaseException) -> None:
    assert not is_retryable(error)


def test_a_host_key_mismatch_is_final(tmp_path: Path) -> None:
    key = paramiko.Ed25519Key(filename=str(keygen(tmp_path / "a")))
    other = paramiko.Ed25519Key(filename=str(keygen(tmp_path / "b")))
    assert not is_retryable(paramiko.BadHostKeyException("198.18.0.11", key, other))


def test_a_passphrase_key_in_home_is_one_line_not_a_retry(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No ssh.key: paramiko looks in ~/.ssh, and the only key there needs a passphrase.
    (tmp_path / ".ssh").mkdir()
    locked = tmp_path / ".ssh" / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass", "-f", str(locked)], check=True
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    known = known_hosts_of(tmp_path, sshd.known_hosts_line("127.0.0.1"))
    started = time.monotonic()
    with pytest.raises(SshFileError, match="protected by a passphrase"):
        Connector(settings(sshd, known, key=None, connect_window=30)).connect("127.0.0.1")
    assert time.monotonic() - started < 5


def test_closing_ends_the_transport_thread_at_once(sshd: Sshd, tmp_path: Path) -> None:
    # The transport thread polls only once a second; a fan-out over many hosts must not keep
    # a second's worth of finished connections' threads alive.
    known = known_hosts_of(tmp_path, sshd.known_hosts_line("127.0.0.1"))
    connection = Connector(settings(sshd, known)).connect("127.0.0.1")
    transport = connection.client.get_transport()
    assert transport is not None
    assert transport.is_alive()
    connection.run("true", check=False)  # not root: sudo may refuse; any exit will do
    connection.close()
    transport.join(0.5)
    assert not transport.is_alive()
