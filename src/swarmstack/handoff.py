"""The hand-off from a cloud deployment to the SSH bootstrap (swarmstack.provisioners).

`aws launch-stack` and `azure deploy` discover their nodes, turn them into inventory Hosts and
call `bootstrap_hosts`. Host keys are verified against a per-cluster known_hosts file, into
which the keys each node published at boot are pinned first (`pin_published_host_keys`), so
no cloud host is trusted on first use; a node that published nothing is refused unless the
user asked for --trust-on-first-use.
Progress goes to the callbacks the caller gives, so this runs without a CLI.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import NodesSilent
from .known_hosts import BadHostKeyRecord, parse_host_key_record, pin_host_keys
from .provisioners.inventory import Bastion, Host, Inventory, SshSettings
from .provisioners.progress import NullProgress, Progress
from .spec import ClusterSpec


def _ignore(_line: str) -> None:
    """The default callback: say nothing."""


@dataclass(frozen=True)
class HandoffProgress:
    """Where the hand-off reports: one-line notes, warnings, and the bootstrap's step table."""

    info: Callable[[str], None] = _ignore
    warn: Callable[[str], None] = _ignore
    steps: Progress = field(default_factory=NullProgress)


@dataclass(frozen=True)
class CloudSsh:
    """The user's SSH choices for bootstrapping cloud nodes."""

    user: str | None
    key: Path | None
    known_hosts: Path | None
    trust_on_first_use: bool

    def settings(
        self, spec: ClusterSpec, default_user: str, bastion: Bastion | None = None
    ) -> SshSettings:
        return SshSettings(
            known_hosts=self.known_hosts or default_known_hosts(spec.name),
            user=self.user or default_user,
            key=self.key,
            bastion=bastion,
            trust_on_first_use=self.trust_on_first_use,
        )


def default_known_hosts(cluster: str) -> Path:
    """~/.config/swarmstack/CLUSTER/known_hosts: one trust store per cluster."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "swarmstack" / cluster / "known_hosts"


@dataclass(frozen=True)
class PublishedKeys:
    """What one node published: its host key record (None: nothing yet), and the names
    (known_hosts spelling) it is reached by."""

    node: str
    names: tuple[str, ...]
    record: str | None


T = TypeVar("T")
# Seconds to wait for every node to publish its host keys (boot, cloud-init, the console).
HOST_KEYS_TIMEOUT = 900.0


SILENT_HINT = (
    "see the node's console output (cloud-init, swarmstack-agent) in the cloud's console, "
    "or pass --trust-on-first-use to check keys yourself"
)


def wait_for_each(
    read: Callable[[str], T | None],
    nodes: Sequence[str],
    what: str,
    *,
    timeout: float,
    poll: float = 10.0,
    info: Callable[[str], None] = _ignore,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    hint: str = SILENT_HINT,
) -> dict[str, T]:
    """Read each node until ``read`` gives something for all of them, or NodesSilent after
    ``timeout`` seconds naming those still silent; ``what`` says what is awaited."""
    deadline = clock() + timeout
    found: dict[str, T] = {}
    while True:
        for node in nodes:
            if node not in found:
                value = read(node)
                if value is not None:
                    found[node] = value
        waiting = [node for node in nodes if node not in found]
        if not waiting:
            return found
        if clock() >= deadline:
            raise NodesSilent(
                f"{len(waiting)} of {len(nodes)} node(s) were not {what} within "
                f"{timeout:.0f}s: {', '.join(waiting[:10])}",
                hint=hint,
            )
        info(f"waiting for {len(waiting)} node(s) {what} ({len(found)}/{len(nodes)})")
        sleep(poll)


def pin_published_host_keys(
    known_hosts: Path, published: Sequence[PublishedKeys], report: HandoffProgress
) -> list[str]:
    """Pin every valid published record under each of its node's names; returns the nodes
    that published nothing usable (SSH will refuse them unless trust on first use is on)."""
    records: dict[str, str] = {}
    missing = []
    for item in published:
        try:
            if item.record is None:
                raise BadHostKeyRecord("no host keys published yet")
            parse_host_key_record(item.record)
        except BadHostKeyRecord as error:
            report.warn(f"{item.node}: host keys not pinned ({error})")
            missing.append(item.node)
            continue
        records.update(dict.fromkeys(item.names, item.record))
    if records:
        pin_host_keys(known_hosts, records)
        pinned = len(published) - len(missing)
        report.info(f"pinned the published host keys of {pinned} node(s) in {known_hosts}")
    return missing


def bootstrap_hosts(
    spec: ClusterSpec,
    hosts: Sequence[Host],
    ssh: SshSettings,
    progress: HandoffProgress | None = None,
) -> dict[str, Any]:
    """Form or converge the swarm on `hosts`; the summary goes into the command's result."""
    report = progress or HandoffProgress()
    if not hosts:
        report.warn("no running nodes to bootstrap")
        return {"status": "skipped", "reason": "no running nodes"}
    from .provisioners.bootstrap import converge  # paramiko: only when a swarm is formed

    report.info(f"forming the swarm on {len(hosts)} node(s) over SSH")
    result = converge(spec, Inventory(ssh=ssh, hosts=tuple(hosts)), progress=report.steps)
    for warning in result.warnings:
        report.warn(warning)
    report.info("swarm converged" if result.changed else "swarm: no changes")
    return {"status": "converged" if result.changed else "no changes", **result.to_dict()}
