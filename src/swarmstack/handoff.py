"""The hand-off from a cloud deployment to the SSH bootstrap (swarmstack.provisioners).

`aws launch-stack` and `azure deploy` discover their nodes, turn them into inventory Hosts and
call `bootstrap_hosts`. Host keys are verified against a per-cluster known_hosts file; cloud
hosts' keys are unknown at first, so the first run needs either keys added out of band
(ssh-keyscan checked against the console output) or an explicit --trust-on-first-use.
Progress goes to the callbacks the caller gives, so this runs without a CLI.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
