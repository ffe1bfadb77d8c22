"""`swarmstack local`: a real multi-node swarm on this Linux machine."""

from __future__ import annotations

import click


@click.group("local")
def local_group() -> None:
    """Real Debian machines on this box (systemd-nspawn) forming a real swarm; needs root."""
