"""`swarmstack azure`: the Azure deployment and its lifecycle."""

from __future__ import annotations

import click


@click.group("azure")
def azure_group() -> None:
    """Docker swarm on Azure with scale sets (deploy, template, status, destroy)."""
