"""A real OpenSSH sshd for the SSH connector's tests, on loopback addresses and a free port.

Everything it needs (host key, the user's key, authorized_keys, sshd_config) lives in one
folder. As root (CI) it logs in as root; otherwise sshd runs unprivileged and can only log in
as the user running it. A missing or failing sshd is a skip off root and a failure as root:
CI must run these tests.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0


@dataclass(frozen=True)
class Sshd:
    folder: Path
    port: int
    addresses: tuple[str, ...]
    user: str
    user_key: Path  # private key whose public half is in authorized_keys
    host_key: paramiko.PKey  # the server's public host key

    def known_hosts_line(self, address: str, key: paramiko.PKey | None = None) -> str:
        key = key or self.host_key
        return f"[{address}]:{self.port} {key.get_name()} {key.get_base64()}\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "", "-f", str(path)], check=True
    )
    return path


def _unusable(reason: str) -> None:
    if os.geteuid() == 0:
        pytest.fail(f"sshd must run for these tests as root: {reason}")
    pytest.skip(f"no usable sshd without root: {reason}")


@contextmanager
def running_sshd(
    folder: Path,
    addresses: tuple[str, ...] = ("127.0.0.1",),
    more_host_keys: tuple[str, ...] = (),
) -> Iterator[Sshd]:
    """``more_host_keys``: key types (ecdsa, rsa) the server offers besides its ed25519 key,
    listed first in its configuration (as a stock sshd offers them)."""
    if not SSHD.exists():
        _unusable(f"{SSHD} is missing (scripts/setup.sh installs openssh-server)")
    folder.mkdir(parents=True, exist_ok=True)
    user = getpass.getuser()
    host_key = keygen(folder / "host_ed25519")
    more = "".join(f"HostKey {keygen(folder / f'host_{kind}', kind)}\n" for kind in more_host_keys)
    user_key = keygen(folder / "user_ed25519")
    (folder / "authorized_keys").write_text((folder / "user_ed25519.pub").read_text())
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation
    port = free_port()
    listen = "".join(f"ListenAddress {address}:{port}\n" for address in addresses)
    (folder / "sshd_config").write_text(
        f"{listen}{more}HostKey {host_key}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
        f"AllowUsers {user}\n"
        "PidFile none\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "MaxStartups 200:30:400\nLogLevel ERROR\nSubsystem sftp internal-sftp\n"
        # bash sources ~/.bashrc when sshd starts it (SSH_CLIENT set, SHLVL < 2); a heavy
        # one (pyenv init) would make every command take seconds.
        "SetEnv SHLVL=1\n"
    )
    process = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(process, addresses, port)
        yield Sshd(
            folder,
            port,
            addresses,
            user,
            user_key,
            paramiko.Ed25519Key(filename=str(host_key)),
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def _wait_listening(
    process: subprocess.Popen[bytes], addresses: tuple[str, ...], port: int
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pending = list(addresses)
    while pending:
        if process.poll() is not None:
            assert process.stderr is not None
            _unusable(process.stderr.read().decode(errors="replace").strip() or "sshd exited")
        try:
            socket.create_connection((pending[0], port), timeout=0.5).close()
            pending.pop(0)
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                _unusable(f"sshd did not listen on {pending[0]}:{port} in {START_TIMEOUT:.0f}s")
            time.sleep(0.02)
