"""The cluster's known_hosts from the host keys the nodes published (no trust on first use).

Each cloud node publishes its SSH host public keys at boot on its console, which only root on
the machine can write and the cloud keeps for its owner: on AWS the block cloud-init prints
(GetConsoleOutput), on Azure the node agent's record line (boot diagnostics). Either becomes
one record, "TYPE BASE64[,TYPE BASE64]", ed25519 first; the CLI pins it here before any SSH
connection, so paramiko checks every host strictly. A pinned name's older lines go (an
instance replaced at the same address has new keys; the cloud's record is the authority),
other lines stay.

The reader is strict because the record comes from the cloud, not from the user: only known
key types, base64 whose blob names the same type, nothing else - a record cannot smuggle in a
line for another host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import SwarmstackError

# The types swarmstack pins, in the order paramiko should ask for them (it asks a host for the
# type of the first key known_hosts holds for it).
KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
SEPARATOR = ","
# cloud-init's keys_to_console prints the host's public keys between these lines.
CONSOLE_BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
CONSOLE_END = "-----END SSH HOST KEY KEYS-----"


class BadHostKeyRecord(SwarmstackError):
    """A published record that is not a list of host keys."""


def parse_host_key_record(record: str) -> list[tuple[str, str]]:
    """(type, base64) of each key in a published record; BadHostKeyRecord if any part is not
    exactly a known key type and its base64 blob."""
    keys = []
    for item in record.strip().split(SEPARATOR):
        fields = item.split(" ")
        if len(fields) != 2 or fields[0] not in KEY_TYPES:
            raise BadHostKeyRecord(f"not a host key: {item[:40]!r}")
        kind, data = fields
        try:
            blob = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadHostKeyRecord(f"{kind} key is not base64") from None
        if blob[4 : 4 + int.from_bytes(blob[:4], "big")] != kind.encode():
            raise BadHostKeyRecord(f"{kind} key holds a key of another type")
        keys.append((kind, data))
    return keys


def host_keys_from_console(console: str) -> str | None:
    """The record of the last host key block cloud-init printed on the console (a reboot
    prints it again), ed25519 first, or None when there is none yet. Types swarmstack does
    not pin (rsa) are left out; lines are taken as printed, checked when pinned."""
    block: list[str] | None = None
    found: list[str] | None = None
    for line in console.splitlines():
        line = line.strip()
        if line == CONSOLE_BEGIN:
            block = []
        elif line == CONSOLE_END and block is not None:
            found, block = block, None
        elif block is not None:
            block.append(line)
    keys = [
        " ".join(fields[:2])
        for fields in (line.split() for line in found or [])
        if len(fields) >= 2 and fields[0] in KEY_TYPES
    ]
    keys.sort(key=lambda key: KEY_TYPES.index(key.split()[0]))
    return SEPARATOR.join(keys) or None


def known_hosts_name(address: str, port: int = 22) -> str:
    """How known_hosts (and paramiko's lookup) names a host reached at address:port."""
    return address if port == 22 else f"[{address}]:{port}"


def pin_host_keys(path: Path, records: Mapping[str, str]) -> list[str]:
    """Write each host's published keys (``records``: known_hosts name -> host key record)
    into ``path``, replacing what it held for those names. Returns the lines written.

    A record that is not a valid list of host keys raises BadHostKeyRecord before anything
    is written.
    """
    lines = [
        f"{name} {kind} {data}"
        for name, record in sorted(records.items())
        for kind, data in parse_host_key_record(record)
    ]
    kept = [_without(line, set(records)) for line in _read(path)]
    text = "".join(f"{line}\n" for line in [*filter(None, kept), *lines])
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
    return lines


def _read(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def _without(line: str, names: set[str]) -> str:
    """The line without the given host names ("" when it named only those)."""
    fields = line.split()
    if not fields or line.startswith("#"):
        return line
    marker = fields.pop(0) if fields[0].startswith("@") else None
    if len(fields) < 3:
        return line
    hosts = [h for h in fields[0].split(",") if not any(_names(h, n) for n in names)]
    if not hosts:
        return ""
    return " ".join(([marker] if marker else []) + [",".join(hosts), *fields[1:]])


def _names(entry: str, name: str) -> bool:
    """Whether one known_hosts host entry (plain or hashed |1|salt|hash) is ``name``."""
    if not entry.startswith("|1|"):
        return entry == name
    try:
        salt, digest = (base64.b64decode(part) for part in entry[3:].split("|", 1))
    except ValueError:
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)
