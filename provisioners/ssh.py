"""The SSH connector: one verified paramiko connection per host, reused for every step.

Only this module talks SSH. Host keys are always checked against the cluster's known_hosts
(paramiko's RejectPolicy semantics); trust on first use records unknown keys only when the
user asked for it, and a key that does not match is refused and never retried. While hosts
boot, refused/timed out/banner/auth failures are retried with exponential backoff and jitter
inside a bounded window; no attempt outlasts the window by more than ATTEMPT_FLOOR.

known_hosts and the private key are parsed once per Connector (one per run) and shared by
every connection (ssh_files.py); a broken local file stops the run before any connection.
Connections run on TCP sockets opened here, not by paramiko: Nagle off and quick ACKs, so no
small write waits ~40 ms for an acknowledgement (bench/ssh_acks.py measures it).

Secrets (join tokens) travel on a channel's stdin, never on a command line; outputs that hold
them are marked secret and never logged. Error text passes through ``redact`` anyway.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import paramiko

from ..errors import (
    HostKeyMismatch,
    HostKeyUnknown,
    HostUnreachable,
    RemoteCommandFailed,
    SshFileError,
)
from .inventory import Bastion, SshSettings
from .ssh_files import KnownHosts, load_private_key

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # TCP connect, per attempt
BANNER_TIMEOUT = 10.0
AUTH_TIMEOUT = 10.0
KEEPALIVE_SECONDS = 15
COMMAND_TIMEOUT = 300.0
# sshd's MaxSessions defaults to 10 channels per connection; stay below it.
MAX_CHANNELS_PER_HOST = 6  # sshd may count a just-closed channel for a moment longer
CHANNEL_OPEN_TRIES = 5
BACKOFF_FIRST, BACKOFF_CAP = 0.25, 5.0
# The last attempt of a window still gets this long to connect, even if the window is nearly
# spent (a busy sshd may take a few seconds to send its banner).
ATTEMPT_FLOOR = 2.0

_SECRETS = re.compile(r"SWM(TKN|KEY)-1-[A-Za-z0-9+/=_-]+")


def redact(text: str) -> str:
    """Blank out swarm join tokens and unlock keys wherever they might appear."""
    return _SECRETS.sub(lambda m: f"SWM{m.group(1)}-1-<redacted>", text)


def brief_command(command: str) -> str:
    """A command as errors show it: its first line, cut at 80 characters (the whole text of a
    long command is only in the debug log)."""
    first = command.strip().splitlines()[0] if command.strip() else ""
    return first if len(first) <= 80 else first[:77] + "..."


class _UnknownHostKey(paramiko.SSHException):
    """Raised by our policy: the host is not in known_hosts and TOFU is off."""


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise _UnknownHostKey(hostname)


class _TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Record an unknown host's key in the cluster's known_hosts (only when asked for)."""

    def __init__(self, known_hosts: KnownHosts) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        self.known_hosts.record(hostname, key)


class _CalmTransport(paramiko.Transport):
    """paramiko's transport thread wakes every 0.1 s to see whether it was closed; with many
    connections open, or waiting on a busy sshd, those wake-ups were a large part of the
    controller's CPU. Once a second is enough: _close() wakes the thread when we are done."""

    _active_check_timeout = 1.0


def _calm_transport(
    sock: Any,
    /,
    *,
    gss_kex: bool = False,
    gss_deleg_creds: bool = False,
    disabled_algorithms: Mapping[str, Iterable[str]] | None,
) -> paramiko.Transport:
    """SSHClient.connect's transport_factory (paramiko passes no gss_* arguments)."""
    return _CalmTransport(sock, disabled_algorithms=disabled_algorithms)


class _QuickAckSocket(socket.socket):
    """A TCP socket that acknowledges what it receives at once (Linux TCP_QUICKACK, reset by
    the kernel, so set before every read). sshd writes small packets with Nagle on: after
    login it sends a global request, then the answer to our first channel, and holds the
    second until the first is acknowledged - 40 ms of delayed ACK on every connection."""

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return super().recv(bufsize, flags)


_HAS_QUICKACK = hasattr(socket, "TCP_QUICKACK")  # Linux only


def _open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """The TCP connection an SSH connection runs on, with Nagle off (our key exchange and
    login are small writes, each waiting for the last to be acknowledged otherwise) and, where
    the kernel has it, quick acknowledgements. Errors are OSErrors, retried while hosts boot."""
    plain = socket.create_connection((address, port), timeout)
    plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not _HAS_QUICKACK:
        return plain
    quick = _QuickAckSocket(fileno=plain.detach())  # the same connection, reading with ACKs
    quick.settimeout(timeout)
    return quick


class _SharedKeysClient(paramiko.SSHClient):
    """An SSHClient that checks host keys against the run's one parsed known_hosts.

    paramiko's own lookup, key-type preference and mismatch check run unchanged; only the
    per-client load_host_keys (a parse of the whole file per connection) is gone.
    """

    def __init__(self, known_hosts: KnownHosts) -> None:
        super().__init__()
        self._host_keys = known_hosts.host_keys


@dataclass(frozen=True)
class CommandResult:
    command: str  # as shown in logs: never holds a secret
    exit_status: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class CommandRecord:
    """What ran where, for the run's report (and the 'no mutating command' promise)."""

    address: str
    command: str
    mutating: bool
    exit_status: int
    seconds: float
    started: float = 0.0  # time.monotonic() when it started (for timelines)


@dataclass
class Connection:
    """A live, verified SSH connection to one host."""

    address: str
    user: str
    client: paramiko.SSHClient
    history: list[CommandRecord] = field(default_factory=list)
    _channels: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_CHANNELS_PER_HOST)
    )
    _history_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sudo(self) -> bool:
        return self.user != "root"

    def run(
        self,
        command: str,
        *,
        stdin: str | None = None,
        mutating: bool = False,
        secret_output: bool = False,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
    ) -> CommandResult:
        """Run a shell command (as root: via ``sudo -n`` for other users) on a new channel.

        ``stdin`` is the only way a secret may reach the host; ``command`` is logged.
        """
        wrapped = f"sudo -n -- sh -c {shlex.quote(command)}" if self.sudo else command
        log.debug("%s$ %s", self.address, command)
        started = time.monotonic()
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise RemoteCommandFailed(f"{self.address}: the SSH connection was closed")
        with self._channels:
            try:
                channel = _open_session(transport)
                channel.settimeout(timeout)
                channel.exec_command(wrapped)
                if stdin is not None:
                    channel.sendall(stdin.encode())
                channel.shutdown_write()
                out = _read_all(channel.recv)
                err = _read_all(channel.recv_stderr)
                status = channel.recv_exit_status()
                channel.close()
            except TimeoutError:
                raise RemoteCommandFailed(
                    f"{self.address}: `{brief_command(command)}` did not finish within "
                    f"{timeout:.0f}s"
                ) from None
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise RemoteCommandFailed(
                    f"{self.address}: `{brief_command(command)}` failed: the SSH channel broke "
                    f"({_describe(exc)})"
                ) from None
        seconds = time.monotonic() - started
        with self._history_lock:
            self.history.append(
                CommandRecord(self.address, command, mutating, status, seconds, started)
            )
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        if not secret_output:
            log.debug("%s: exit %d in %.3fs %s", self.address, status, seconds, stdout.strip())
        if check and status != 0:
            detail = redact(stderr.strip() or ("" if secret_output else stdout.strip()))
            last = detail.splitlines()[-1] if detail else "no output"
            raise RemoteCommandFailed(
                f"{self.address}: `{brief_command(command)}` exited {status}: {last}"
            )
        return CommandResult(command, status, stdout, stderr, seconds)

    def put(self, data: bytes, remote_path: str, mode: int = 0o600) -> None:
        """Write a file over SFTP (as the SSH user; use a path that user may write)."""
        log.debug("%s: sftp put %s (%d bytes)", self.address, remote_path, len(data))
        with self._channels, self.client.open_sftp() as sftp:
            with sftp.open(remote_path, "wb") as handle:
                handle.set_pipelined(True)
                handle.write(data)
            sftp.chmod(remote_path, mode)

    def close(self) -> None:
        _close(self.client)


def _close(client: paramiko.SSHClient) -> None:
    """Close, and end the transport thread now rather than at its next wake-up (up to a
    second later): a shutdown wakes its recv(), where a close from this thread would not."""
    transport = client.get_transport()
    if transport is not None:
        with contextlib.suppress(OSError, EOFError):
            transport.sock.shutdown(socket.SHUT_RDWR)
    client.close()


def _open_session(transport: paramiko.Transport) -> paramiko.Channel:
    """A new session channel; sshd refuses one over its MaxSessions for a moment: retry."""
    for attempt in range(CHANNEL_OPEN_TRIES):
        try:
            return transport.open_session(timeout=AUTH_TIMEOUT)
        except paramiko.ChannelException:
            if attempt == CHANNEL_OPEN_TRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def _read_all(receive: Callable[[int], bytes]) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = receive(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return redact(text.splitlines()[0] if text else type(exc).__name__)


def is_retryable(exc: BaseException) -> bool:
    """Failures that are normal while a machine boots (and never a host key problem)."""
    if isinstance(
        exc,
        paramiko.BadHostKeyException | _UnknownHostKey | paramiko.PasswordRequiredException,
    ):
        return False
    return isinstance(
        exc,
        paramiko.ssh_exception.NoValidConnectionsError
        | paramiko.AuthenticationException
        | paramiko.SSHException
        | OSError
        | EOFError,
    )


class Connector:
    """Opens verified connections with the inventory's settings; one bastion shared by all."""

    def __init__(self, settings: SshSettings, *, connect_window: float | None = None) -> None:
        """Reads known_hosts and the private key now (raises SshFileError if either is
        unusable); every connection made by this connector shares them."""
        self.settings = settings
        self.connect_window = settings.connect_window if connect_window is None else connect_window
        self.known_hosts = KnownHosts.load(settings.known_hosts)
        self.key = load_private_key(settings.key) if settings.key is not None else None
        self._policy: paramiko.MissingHostKeyPolicy = (
            _TrustOnFirstUse(self.known_hosts) if settings.trust_on_first_use else _RejectUnknown()
        )
        self._bastion: paramiko.SSHClient | None = None
        self._bastion_lock = threading.Lock()

    def _connect_once(
        self, address: str, port: int, user: str, sock: paramiko.Channel | None, budget: float
    ) -> paramiko.SSHClient:
        client = _SharedKeysClient(self.known_hosts)
        client.set_missing_host_key_policy(self._policy)
        # Through the bastion, its channel; else our own TCP connection.
        stream = sock or _open_socket(address, port, min(CONNECT_TIMEOUT, budget))
        try:
            client.connect(
                address,
                port=port,
                username=user,
                pkey=self.key,
                # Without a key file: the SSH agent, then ~/.ssh's default keys.
                look_for_keys=self.key is None,
                allow_agent=self.key is None,
                timeout=min(CONNECT_TIMEOUT, budget),
                banner_timeout=min(BANNER_TIMEOUT, budget),
                auth_timeout=min(AUTH_TIMEOUT, budget),
                channel_timeout=min(AUTH_TIMEOUT, budget),
                sock=stream,
                transport_factory=_calm_transport,
            )
        except BaseException:
            _close(client)
            stream.close()
            raise
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(KEEPALIVE_SECONDS)
        return client

    def _bastion_channel(self, bastion: Bastion, address: str, port: int) -> paramiko.Channel:
        with self._bastion_lock:
            transport = self._bastion.get_transport() if self._bastion else None
            if transport is None or not transport.is_active():
                self._bastion = self._with_retries(
                    bastion.address,
                    bastion.port,
                    lambda budget: self._connect_once(
                        bastion.address,
                        bastion.port,
                        bastion.user or self.settings.user,
                        None,
                        budget,
                    ),
                    what="bastion",
                )
                transport = self._bastion.get_transport()
        assert transport is not None
        return transport.open_channel("direct-tcpip", (address, port), ("", 0))

    def connect(
        self,
        address: str,
        port: int | None = None,
        *,
        on_retry: Callable[[str], None] | None = None,
        window: float | None = None,
    ) -> Connection:
        """A verified connection to ``address``; retries boot-time failures in the window
        (``window`` seconds, default the connector's)."""
        port = port or self.settings.port
        user = self.settings.user

        def attempt(budget: float) -> paramiko.SSHClient:
            bastion = self.settings.bastion
            sock = self._bastion_channel(bastion, address, port) if bastion else None
            return self._connect_once(address, port, user, sock, budget)

        client = self._with_retries(address, port, attempt, on_retry=on_retry, window=window)
        return Connection(address=address, user=user, client=client)

    def _with_retries(
        self,
        address: str,
        port: int,
        attempt: Callable[[float], paramiko.SSHClient],
        *,
        what: str = "host",
        on_retry: Callable[[str], None] | None = None,
        window: float | None = None,
    ) -> paramiko.SSHClient:
        started = time.monotonic()
        deadline = started + (self.connect_window if window is None else window)
        tries = 0
        where = address if port == 22 else f"{address}:{port}"
        while True:
            tries += 1
            try:
                return attempt(max(ATTEMPT_FLOOR, deadline - time.monotonic()))
            except paramiko.BadHostKeyException as exc:
                raise HostKeyMismatch(
                    f"{where}: the {what} key does not match known_hosts "
                    f"(got {exc.key.get_name()} {exc.key.fingerprint}); refusing to connect",
                    hint="if the host was rebuilt, remove its line from "
                    f"{self.settings.known_hosts} after checking the new key out of band",
                ) from None
            except paramiko.PasswordRequiredException:
                # Only without ssh.key: paramiko tried ~/.ssh's keys and one needs a passphrase.
                raise SshFileError(
                    f"{where}: no key in the SSH agent was accepted, and a key in ~/.ssh is "
                    "protected by a passphrase, which swarmstack does not prompt for",
                    hint="add the key to ssh-agent (ssh-add), or name a key with ssh.key",
                ) from None
            except _UnknownHostKey:
                raise HostKeyUnknown(
                    f"{where}: the {what} is not in {self.settings.known_hosts}; refusing to "
                    "connect to an unverified host",
                    hint="add its key to known_hosts (ssh-keyscan, checked out of band), or set "
                    "ssh.trust_on_first_use: true / --trust-on-first-use to record it",
                ) from None
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                now = time.monotonic()
                delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (tries - 1))
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
                if now + delay > deadline:
                    raise self._gave_up(where, what, tries, now - started, exc) from None
                message = f"{_describe(exc)}; retrying in {delay:.1f}s"
                log.info("%s: %s", where, message)
                if on_retry is not None:
                    on_retry(message)
                time.sleep(delay)

    def _gave_up(
        self, where: str, what: str, tries: int, seconds: float, exc: BaseException
    ) -> HostUnreachable:
        if isinstance(exc, paramiko.AuthenticationException):
            # sshd answered: the network is fine, the login is not (or not yet, while the
            # host is still installing its authorized keys).
            user = self.settings.user
            key = self.settings.key or "the SSH agent and ~/.ssh keys"
            return HostUnreachable(
                f"{where}: the {what} refused login as {user} with {key} for {seconds:.1f}s "
                f"({tries} attempts: {_describe(exc)})",
                hint="check the SSH user and key; the host's authorized_keys must hold the "
                "key's public half",
            )
        return HostUnreachable(
            f"{where}: no SSH connection to the {what} after {tries} attempts in "
            f"{seconds:.1f}s ({_describe(exc)})",
            hint="check the address, that sshd runs and that a firewall or security "
            "group lets this machine in; ssh.connect_window sets how long to retry",
        )

    def close(self) -> None:
        if self._bastion is not None:
            _close(self._bastion)
