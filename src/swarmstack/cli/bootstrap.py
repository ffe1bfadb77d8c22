"""`swarmstack bootstrap`: form a swarm over SSH on hosts you already have."""

from __future__ import annotations

import click

from ..errors import UsageError


@click.command("bootstrap")
def bootstrap_command() -> None:
    """Form (or converge) a swarm over SSH on the hosts of an inventory file."""
    raise UsageError("bootstrap: not built yet (issue 5/6)")
