"""`swarmstack local down`: power off and delete a local cluster."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import LocalProviderError
from ..output import Output
from .local_views import cluster_name, cluster_name_options


@click.command("down")
@cluster_name_options
@click.pass_obj
def down(output: Output, /, spec_file: Path | None, name: str | None) -> None:
    """Power off and delete the local machines, their network and state. Needs root."""
    from ..provisioners.local import LocalCluster, require_root

    cluster_id = cluster_name(spec_file, name)
    require_root("swarmstack local down")
    if not LocalCluster.exists(cluster_id):
        output.emit(
            {"cluster": cluster_id, "removed": False},
            lambda console: console.print(
                f"no local cluster named {cluster_id}; nothing to do", markup=False
            ),
        )
        return
    from .local_sim import stop_simulation

    stop_simulation(output, cluster_id)
    cluster = LocalCluster.open(cluster_id, progress=output.info)
    cluster.down()
    left = cluster.leftovers()
    if left:
        raise LocalProviderError(
            f"local cluster {cluster_id} is down, but some of it is left on the host:",
            *left,
            hint="scripts/testbed-clean.sh removes every local machine and its leftovers",
        )
    output.emit(
        {"cluster": cluster_id, "removed": True},
        lambda console: console.print(f"local cluster {cluster_id} removed", markup=False),
    )
