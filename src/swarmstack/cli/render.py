"""`swarmstack render`: show what swarmstack would hand to hosts, without touching anything."""

from __future__ import annotations

import click


@click.group("render")
def render_group() -> None:
    """Render artefacts (cloud-init user data, ...) to stdout for review."""
