"""The SSH bootstrap after a cloud deployment: options and the hand-off to converge().

`aws launch-stack` and `azure deploy` discover their nodes, turn them into inventory Hosts and
call `bootstrap_hosts`. Host keys are verified against a per-cluster known_hosts file; cloud
hosts' keys are unknown at first, so the first run needs either keys added out of band
(ssh-keyscan checked against the console output) or an explicit --trust-on-first-use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from ..output import Output
from ..provisioners.bootstrap import converge
from ..provisioners.inventory import Bastion, Host, Inventory, SshSettings
from ..spec import ClusterSpec
from .bootstrap import progress_for

F = TypeVar("F", bound=Callable[..., Any])


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


def cloud_ssh_options(function: F) -> F:
    """--ssh-user, --ssh-key, --known-hosts and --trust-on-first-use for the bootstrap."""
    options = [
        click.option(
            "--ssh-user", default=None, help="SSH user on the nodes (default: the image's user)."
        ),
        click.option(
            "--ssh-key",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Private key for the nodes (default: the SSH agent and ~/.ssh keys).",
        ),
        click.option(
            "--known-hosts",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The cluster's known_hosts (default: ~/.config/swarmstack/NAME/known_hosts).",
        ),
        click.option(
            "--trust-on-first-use",
            is_flag=True,
            default=False,
            help="Record the keys of nodes missing from known_hosts instead of refusing them. "
            "A key that does not match is refused either way.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def cloud_ssh_from_options(options: dict[str, Any]) -> CloudSsh:
    """Take the SSH options out of a command's keyword arguments."""
    return CloudSsh(
        user=options.pop("ssh_user"),
        key=options.pop("ssh_key"),
        known_hosts=options.pop("known_hosts"),
        trust_on_first_use=options.pop("trust_on_first_use"),
    )


def bootstrap_hosts(
    output: Output, spec: ClusterSpec, hosts: Sequence[Host], ssh: SshSettings
) -> dict[str, Any]:
    """Form or converge the swarm on `hosts`; the summary goes into the command's result."""
    if not hosts:
        output.warn("no running nodes to bootstrap")
        return {"status": "skipped", "reason": "no running nodes"}
    output.info(f"forming the swarm on {len(hosts)} node(s) over SSH")
    result = converge(spec, Inventory(ssh=ssh, hosts=tuple(hosts)), progress=progress_for(output))
    for warning in result.warnings:
        output.warn(warning)
    output.info("swarm converged" if result.changed else "swarm: no changes")
    return {"status": "converged" if result.changed else "no changes", **result.to_dict()}
