"""The bootstrap inventory: which hosts form the swarm, in which role, and how to reach them.

Format (YAML; paths are relative to the inventory file)::

    ssh: {user: ops, key: ./id_ed25519, known_hosts: ./known_hosts, port: 22, bastion: null}
    hosts:
      - {address: 198.18.0.11, role: manager, zone: a}
      - {address: 198.18.0.14, role: worker}
      - {address: 198.18.0.15, role: worker, state: absent}   # drained, leaves, removed

Every problem is one line naming the key as written in the file (``hosts[2].role``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..contract import MANAGER_SIZES, MANAGER_SIZES_PHRASE
from ..errors import InventoryError, as_written, shown
from ..yamlfile import load_yaml_file

Role = Literal["manager", "worker"]
HostState = Literal["present", "absent"]
DEFAULT_CONNECT_WINDOW = 120.0
# A DNS name or an IPv4/IPv6 address; no user@ or :port (those have their own keys).
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
_ZONE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_PORT_DIGITS = re.compile(r"[0-9]{1,5}")

_SSH_KEYS = (
    "user",
    "key",
    "known_hosts",
    "port",
    "bastion",
    "trust_on_first_use",
    "connect_window",
)
_HOST_KEYS = ("address", "role", "zone", "private_address", "state", "port", "hostname")
_BASTION_KEYS = ("address", "user", "port")


@dataclass(frozen=True)
class Bastion:
    """A jump host; connections to the swarm hosts tunnel through it (direct-tcpip)."""

    address: str
    user: str | None = None  # None: the inventory's ssh.user
    port: int = 22


@dataclass(frozen=True)
class SshSettings:
    """How to reach every host. Host keys are always verified against ``known_hosts``."""

    known_hosts: Path
    user: str = "root"
    key: Path | None = None  # None: the SSH agent and ~/.ssh default keys
    port: int = 22
    bastion: Bastion | None = None
    # Record unknown host keys into known_hosts instead of refusing them. Off by default:
    # a mismatching key is refused either way.
    trust_on_first_use: bool = False
    # Seconds to keep retrying refused/timed out/banner/auth failures while hosts boot.
    connect_window: float = DEFAULT_CONNECT_WINDOW


@dataclass(frozen=True)
class Host:
    """One machine of the swarm (or, with state absent, one to take out of it)."""

    address: str  # where SSH connects
    role: Role
    zone: str | None = None
    private_address: str | None = None  # the swarm advertise address; default: address
    state: HostState = "present"
    port: int | None = None  # None: the inventory's ssh.port
    hostname: str | None = None  # informational (the local machines name their hosts)

    @property
    def advertise_address(self) -> str:
        return self.private_address or self.address


@dataclass(frozen=True)
class Inventory:
    ssh: SshSettings
    hosts: tuple[Host, ...] = field(default_factory=tuple)

    @property
    def present(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.state == "present")

    @property
    def managers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.present if h.role == "manager")

    @property
    def workers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.present if h.role == "worker")

    def host(self, address: str) -> Host:
        for host in self.hosts:
            if host.address == address:
                return host
        raise KeyError(address)


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory file; raises InventoryError with one line per problem."""
    data = load_yaml_file(path, InventoryError)
    return inventory_from_data(data, base=path.parent, source=str(path))


def inventory_from_data(data: Any, *, base: Path, source: str = "inventory") -> Inventory:
    """Validate parsed inventory data; relative paths are resolved against ``base``."""
    problems = _Problems(source)
    if not isinstance(data, Mapping):
        raise InventoryError(f"{source}: must be a mapping with the keys ssh and hosts")
    for key in data:
        if key not in ("ssh", "hosts"):
            problems.add(as_written(str(key)), "unknown key (allowed: ssh, hosts)")
    ssh = _ssh_settings(data.get("ssh") or {}, base, problems)
    hosts = _hosts(data.get("hosts"), problems)
    problems.raise_if_any()
    assert ssh is not None
    return Inventory(ssh=ssh, hosts=tuple(hosts))


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.lines.append(f"{self.source}: {key}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise InventoryError(*self.lines)


def _unknown(data: Mapping[str, Any], allowed: Sequence[str], prefix: str, p: _Problems) -> None:
    for key in data:
        if key not in allowed:
            p.add(
                f"{prefix}.{as_written(str(key))}", f"unknown key (allowed: {', '.join(allowed)})"
            )


def _port(value: Any, key: str, p: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        p.add(key, f"must be a port number 1-65535, not {shown(value)}")
        return None
    return value


def _address(value: Any, key: str, p: _Problems) -> str | None:
    if not isinstance(value, str) or not value:
        p.add(key, f"must be an IP address or DNS name, not {shown(value)}")
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(value):
        p.add(key, f"must be an IP address or DNS name (no user@ or :port), not {shown(value)}")
        return None
    return value


def _ip_text(value: Any) -> str | None:
    """An IP address written as text; YAML's 3321887243 is a number, never an address."""
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _path(value: Any, base: Path, key: str, p: _Problems) -> Path | None:
    if not isinstance(value, str) or not value:
        p.add(key, f"must be a file path, not {shown(value)}")
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _ssh_settings(data: Any, base: Path, p: _Problems) -> SshSettings | None:
    if not isinstance(data, Mapping):
        p.add("ssh", "must be a mapping (user, key, known_hosts, port, bastion)")
        return SshSettings(known_hosts=base / "known_hosts")
    _unknown(data, _SSH_KEYS, "ssh", p)
    user = data.get("user", "root")
    if not isinstance(user, str) or not _USER.fullmatch(user):
        p.add("ssh.user", f"must be a login name like ops, not {shown(user)}")
        user = "root"
    key = _path(data["key"], base, "ssh.key", p) if data.get("key") is not None else None
    known_hosts = _path(data.get("known_hosts", "known_hosts"), base, "ssh.known_hosts", p)
    port = _port(data.get("port", 22), "ssh.port", p) or 22
    tofu = data.get("trust_on_first_use", False)
    if not isinstance(tofu, bool):
        p.add("ssh.trust_on_first_use", f"must be true or false, not {shown(tofu)}")
        tofu = False
    window = data.get("connect_window", DEFAULT_CONNECT_WINDOW)
    if isinstance(window, bool) or not isinstance(window, int | float) or not 0 <= window <= 3600:
        p.add("ssh.connect_window", f"must be seconds between 0 and 3600, not {shown(window)}")
        window = DEFAULT_CONNECT_WINDOW
    return SshSettings(
        known_hosts=known_hosts or base / "known_hosts",
        user=user,
        key=key,
        port=port,
        bastion=_bastion(data.get("bastion"), p),
        trust_on_first_use=tofu,
        connect_window=float(window),
    )


def _bastion(data: Any, p: _Problems) -> Bastion | None:
    if data is None:
        return None
    if isinstance(data, str):  # [user@]host[:port]
        user, _, rest = data.rpartition("@")
        host, sep, port_text = rest.partition(":")
        address = _address(host, "ssh.bastion", p)
        # ASCII digits only: str.isdigit() accepts '²', which int() then rejects.
        port: int | None = 22
        if _PORT_DIGITS.fullmatch(port_text):
            port = _port(int(port_text), "ssh.bastion", p)
        elif sep:
            p.add("ssh.bastion", f"port must be a number 1-65535, not {shown(port_text)}")
        return Bastion(address or host, user or None, port or 22)
    if not isinstance(data, Mapping):
        p.add("ssh.bastion", "must be null, 'user@host:port' or a mapping (address, user, port)")
        return None
    _unknown(data, _BASTION_KEYS, "ssh.bastion", p)
    address = _address(data.get("address"), "ssh.bastion.address", p)
    raw_user = data.get("user")
    bastion_user: str | None = None
    if raw_user is not None:
        if isinstance(raw_user, str) and _USER.fullmatch(raw_user):
            bastion_user = raw_user
        else:
            p.add("ssh.bastion.user", f"must be a login name, not {shown(raw_user)}")
    port = _port(data.get("port", 22), "ssh.bastion.port", p) or 22
    return Bastion(address or "", bastion_user, port)


def _hosts(data: Any, p: _Problems) -> list[Host]:
    if not isinstance(data, list) or not data:
        p.add("hosts", "must be a non-empty list of hosts ({address: ..., role: manager})")
        return []
    hosts: list[Host] = []
    seen: dict[str, int] = {}  # address -> index
    advertised: dict[str, int] = {}  # swarm advertise address -> index
    for index, item in enumerate(data):
        key = f"hosts[{index}]"
        if not isinstance(item, Mapping):
            p.add(key, "must be a mapping like {address: 198.18.0.11, role: manager}")
            continue
        _unknown(item, _HOST_KEYS, key, p)
        address = _address(item.get("address"), f"{key}.address", p)
        role = item.get("role")
        if role not in ("manager", "worker"):
            p.add(f"{key}.role", f"must be manager or worker, not {shown(role)}")
        zone = item.get("zone")
        if zone is not None:
            zone = str(zone) if isinstance(zone, int) and not isinstance(zone, bool) else zone
            if not isinstance(zone, str) or not _ZONE.fullmatch(zone):
                p.add(f"{key}.zone", f"must be letters, digits and ._- (max 63), not {shown(zone)}")
        raw_private = item.get("private_address")
        private: str | None = None
        if raw_private is not None:
            private = _ip_text(raw_private)
            if private is None:
                p.add(
                    f"{key}.private_address",
                    f"must be an IP address written like 198.18.0.11, not {shown(raw_private)}",
                )
        state = item.get("state", "present")
        if state not in ("present", "absent"):
            p.add(f"{key}.state", f"must be present or absent, not {shown(state)}")
        port = _port(item["port"], f"{key}.port", p) if "port" in item else None
        hostname = item.get("hostname")
        if hostname is not None and (
            not isinstance(hostname, str) or not _HOSTNAME.fullmatch(hostname)
        ):
            p.add(f"{key}.hostname", f"must be a host name, not {shown(hostname)}")
            hostname = None
        if (
            address is None
            or role not in ("manager", "worker")
            or state not in ("present", "absent")
        ):
            continue
        if private is None and not _is_ip(address):
            p.add(
                f"{key}.private_address",
                f"needed when address is a DNS name ({address}): swarm nodes advertise an IP",
            )
            continue
        if address in seen:
            p.add(f"{key}.address", f"{address} is already hosts[{seen[address]}]")
            continue
        advertise = private or address
        if advertise in advertised:
            p.add(
                f"{key}.private_address" if private else f"{key}.address",
                f"{advertise} is already the swarm address of hosts[{advertised[advertise]}]",
            )
            continue
        seen[address] = index
        advertised[advertise] = index
        hosts.append(Host(address, role, zone, private, state, port, hostname))
    managers = [h for h in hosts if h.role == "manager" and h.state == "present"]
    if hosts and len(managers) not in MANAGER_SIZES:
        p.add(
            "hosts",
            f"{len(managers)} managers: must be {MANAGER_SIZES_PHRASE} "
            "(raft quorum needs an odd count; more than 7 slows every write)",
        )
    return hosts
