"""`swarmstack local status`: the local machines and whether they answer."""

from __future__ import annotations

from pathlib import Path

import click

from ..output import Output
from .local_views import cluster_name, cluster_name_options, emit_cluster


@click.command("status")
@cluster_name_options
@click.pass_obj
def status(output: Output, /, spec_file: Path | None, name: str | None) -> None:
    """Show the local machines: role, zone, address, running, SSH answering."""
    from ..provisioners.local import LocalCluster
    from ..provisioners.local.sim import is_simulation

    cluster = LocalCluster.open(cluster_name(spec_file, name))
    if is_simulation(cluster.name):
        from .local_sim import emit_simulation_status

        emit_simulation_status(output, cluster)
        return
    emit_cluster(output, cluster, cluster.status())
