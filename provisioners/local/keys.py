"""The cluster's SSH material: its ed25519 key pair, known_hosts and an ssh_config to Include."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .plan import Machine
from .run import run


def ensure_key_pair(private_key: Path, comment: str) -> str:
    """Create the cluster's key pair once; returns the public key line."""
    public_key = private_key.with_name(private_key.name + ".pub")
    if not private_key.exists():
        private_key.parent.mkdir(parents=True, exist_ok=True)
        public_key.unlink(missing_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(private_key)])
    private_key.chmod(0o600)
    return public_key.read_text().strip()


def known_hosts_text(entries: Iterable[tuple[Machine, str]]) -> str:
    """One line per machine: its address and the host key it generated itself."""
    return "".join(f"{machine.address} {key}\n" for machine, key in entries)


def ssh_config_text(
    machines: Iterable[Machine], user: str, private_key: Path, known_hosts: Path
) -> str:
    """For `Include` in ~/.ssh/config, so `ssh ss-m1`-style tools and DOCKER_HOST=ssh:// work."""
    blocks = []
    for machine in machines:
        blocks.append(
            f"Host {machine.address}\n"
            f"    User {user}\n"
            f"    IdentityFile {private_key}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {known_hosts}\n"
            "    StrictHostKeyChecking yes\n"
        )
    return "\n".join(blocks)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    tmp.replace(path)
