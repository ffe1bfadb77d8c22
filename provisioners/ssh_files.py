"""The local files SSH trusts: known_hosts and the private key, each read once per run.

Both are read when a Connector is made, before any connection, so a broken file is reported
at once in one line that names it (and the line) - not retried for the whole connect window
and then blamed on the network. The parsed objects are shared by every connection of the run:
parsing known_hosts per connection made a 1000-host converge cost O(N^2) CPU (84-224 ms per
connection at 1000 lines).

A known_hosts line that cannot be read is an error, not skipped: with trust on first use on,
a skipped line would let whatever key the host presents now be recorded in its place.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko
from paramiko.hostkeys import HostKeyEntry

from ..errors import SshFileError

if TYPE_CHECKING:
    from paramiko.hostkeys import _SubDict

log = logging.getLogger(__name__)

_LINE_FORMAT = "want 'host[,host...] key-type base64-key'"


class _HostKeys(paramiko.HostKeys):
    """paramiko's HostKeys with an index by plain host name, so that each connection's lookup
    costs the same at 10 or 10,000 lines.

    paramiko's lookup scans every entry (hashing the name once per hashed entry). This one
    hands paramiko's own lookup only the candidates: the entries naming the host in plain text
    and every hashed entry, in file order - the same entries, so the same answer.
    """

    # paramiko's own entry list (missing from its type stubs); appended to directly because
    # HostKeys.add and .load scan every entry per line, O(N^2) for a large file.
    _entries: list[HostKeyEntry]

    def __init__(self) -> None:
        super().__init__()
        self._by_name: dict[str, list[int]] = {}  # plain host name -> entry positions
        self._hashed: list[int] = []  # positions of entries with a hashed name
        self._indexed = 0  # entries[:_indexed] are in the index

    def append(self, entry: HostKeyEntry) -> None:
        self._entries.append(entry)
        self._index_new_entries()

    def add(self, hostname: str, keytype: str, key: paramiko.PKey) -> None:
        super().add(hostname, keytype, key)
        self._index_new_entries()

    def _index_new_entries(self) -> None:
        for position in range(self._indexed, len(self._entries)):
            names = self._entries[position].hostnames
            if any(name.startswith("|1|") for name in names):
                self._hashed.append(position)
            for name in names:
                self._by_name.setdefault(name, []).append(position)
        self._indexed = len(self._entries)

    def lookup(self, hostname: str) -> _SubDict | None:
        if self._indexed != len(self._entries):  # changed behind the index: plain scan
            return super().lookup(hostname)
        positions = sorted({*self._by_name.get(hostname, ()), *self._hashed})
        if not positions:
            return None
        return _Candidates([self._entries[p] for p in positions]).lookup(hostname)


class _Candidates(paramiko.HostKeys):
    """A few entries, for paramiko's own lookup to choose from."""

    _entries: list[HostKeyEntry]

    def __init__(self, entries: list[HostKeyEntry]) -> None:
        super().__init__()
        self._entries = entries


class KnownHosts:
    """One parsed known_hosts, shared read-only by all connections; TOFU writes are serialized."""

    def __init__(self, path: Path, host_keys: paramiko.HostKeys) -> None:
        self.path = path
        self.host_keys = host_keys
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> KnownHosts:
        """Parse ``path`` (a missing file is an empty one); raises SshFileError."""
        return cls(path, _parse(path))

    def record(self, name: str, key: paramiko.PKey) -> None:
        """Trust on first use: add ``key`` for ``name`` (as paramiko names it, ``[addr]:port``
        off port 22) to the shared keys and append it to the file, created 0600."""
        with self._lock:
            known = self.host_keys.lookup(name)
            if known is not None:  # another connection recorded this host meanwhile
                if known.get(key.get_name()) == key:
                    return
                raise paramiko.BadHostKeyException(name, key, next(iter(known.values())))
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            line = f"{name} {key.get_name()} {key.get_base64()}\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="ascii") as handle:
                if handle.tell() > 0 and not _ends_with_newline(self.path):
                    handle.write("\n")
                handle.write(line)
            self.host_keys.add(name, key.get_name(), key)
        log.warning("%s: trusted on first use, key %s recorded", name, key.fingerprint)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _parse(path: Path) -> paramiko.HostKeys:
    host_keys = _HostKeys()
    where = f"known_hosts file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return host_keys
    except IsADirectoryError:
        raise SshFileError(f"{where}: is a directory, not a known_hosts file") from None
    except UnicodeDecodeError:
        raise SshFileError(f"{where}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise SshFileError(f"{where}: cannot read ({exc.strerror or exc})") from None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            entry = _entry(line, f"{where}, line {number}")
            if entry is not None:
                host_keys.append(entry)
    return host_keys


def _entry(line: str, where: str) -> HostKeyEntry | None:
    fields = line.split()
    hint = "fix or delete that line (ssh-keygen -R HOST -f FILE removes a host's lines)"
    if fields[0].startswith("@"):
        # paramiko cannot check certificates; a host known only through a CA stays unknown.
        # A revocation it cannot honour must not be ignored silently.
        if fields[0] == "@cert-authority":
            return None
        raise SshFileError(f"{where}: {fields[0][:20]!r} lines are not supported", hint=hint)
    if len(fields) < 3:
        raise SshFileError(f"{where}: {len(fields)} fields, {_LINE_FORMAT}", hint=hint)
    try:
        entry = HostKeyEntry.from_line(" ".join(fields[:3]))
    except Exception:  # any decoding failure means the same: not a key
        raise SshFileError(
            f"{where}: the {fields[1][:40]!r} key is not valid key data", hint=hint
        ) from None
    if entry is None:  # a key type paramiko does not know (e.g. sk-ssh-ed25519): unusable
        log.debug("%s: skipped, key type %s is not supported", where, fields[1])
    return entry


def load_private_key(path: Path) -> paramiko.PKey:
    """Parse the private key once per run; raises SshFileError naming the file."""
    where = f"SSH private key {path}"
    if path.is_dir():
        raise SshFileError(f"{where}: is a directory, not a key file")
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise SshFileError(f"{where}: does not exist") from None
    # cryptography raises TypeError for an encrypted key loaded without a password.
    except (paramiko.PasswordRequiredException, TypeError):
        raise SshFileError(
            f"{where}: is protected by a passphrase, and swarmstack does not prompt for one",
            hint="add the key to ssh-agent (ssh-add) and leave the key setting unset",
        ) from None
    except OSError as exc:
        raise SshFileError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except (paramiko.SSHException, ValueError):
        raise SshFileError(
            f"{where}: not a private key (OpenSSH or PEM format: ed25519, ECDSA or RSA)",
            hint="point to the private key, not the .pub file",
        ) from None
