"""`swarmstack local up`: create (or scale) the local machines and form a swarm on them."""

from __future__ import annotations

from typing import Any

import click

from ..output import Output
from .local_views import emit_cluster
from .options import spec_from_options, spec_options
from .progress import progress_for
from .spec_scope import LOCAL_UP


@click.command("up")
@spec_options(LOCAL_UP)
@click.option(
    "--cloud",
    metavar="CLOUD",
    default=None,
    help="Run this cloud's real stack on simulated infrastructure: aws (moto's server, "
    "cloud-init, instance metadata; needs `pip install 'swarmstack[sim]'`) or azure (the ARM "
    "template on a simulated Resource Manager, Key Vault, blobs and instance metadata).",
)
@click.pass_obj
def up(output: Output, /, cloud: str | None, **options: Any) -> None:
    """Create (or scale) the local machines and form a swarm on them.

    \b
    Takes the spec like every command (-f FILE, SWARMSTACK_*, flags); --managers and
    --workers are its sizes (manager_size, cluster_size). Defaults here: name local,
    3 managers, 2 workers, overlay pool 198.19.0.0/18. Re-running with other counts scales:
    new machines join; surplus ones (highest numbers first) leave the swarm and are
    powered off. Needs root.
    \b
    Examples:
      sudo swarmstack local up --managers 3 --workers 2
      sudo swarmstack local up --managers 3 --workers 5     # scale out
      sudo swarmstack local up -f examples/cluster.yaml --managers 1 --workers 1
      sudo swarmstack local ssh ss-m1 -- docker node ls
      sudo swarmstack local up --cloud aws --managers 3 --workers 2 --name try
      sudo swarmstack local up --cloud azure --managers 1 --workers 1 --name tryaz
    \b
    With --cloud aws the stack swarmstack launches on AWS is created on a simulated AWS
    instead, and every instance its groups launch becomes a machine running the stack's
    real user data; the simulated AWS endpoint is printed for the AWS CLI. With --cloud
    azure the ARM template of `swarmstack azure template` is deployed on a simulated Azure
    and every scale-set instance becomes a machine running its custom data; the nodes form
    their swarm themselves.
    """
    from ..provisioners.local import LocalCluster  # paramiko: only when machines are made
    from ..provisioners.local.formation import LOCAL_DEFAULTS, form_swarm, local_spec

    defaults = dict(LOCAL_DEFAULTS)
    if cloud is not None:
        from ..provisioners.local.sim import check_cloud

        check_cloud(cloud)
        from .local_sim import SIMULATION_DEFAULTS

        defaults.update(SIMULATION_DEFAULTS)
    pool_from_flag = options.get("default_addr_pool") is not None
    spec = local_spec(
        spec_from_options(options, defaults=defaults, scope=LOCAL_UP),
        pool_from_flag=pool_from_flag,
        warn=output.warn,
    )
    if cloud is not None:
        from . import local_sim

        local_sim.up_simulation(output, spec, cloud)
        return
    progress = progress_for(output)

    def take_out(cluster: LocalCluster, leaving: Any) -> None:
        output.info("taking the leaving machines out")
        form_swarm(cluster, spec, leaving=leaving, progress=progress)

    cluster = LocalCluster.up(
        spec.manager_size,
        spec.cluster_size,
        name=spec.name,
        progress=output.info,
        before_remove=take_out,
    )
    output.info("forming the swarm")
    result = form_swarm(cluster, spec, progress=progress)
    for warning in result.warnings:
        output.warn(warning)
    emit_cluster(output, cluster, swarm=result)
