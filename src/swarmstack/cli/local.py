"""`swarmstack local`: a real multi-node swarm on this Linux machine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..errors import LocalProviderError
from ..output import Output, table
from ..provisioners.bootstrap import BootstrapResult, converge
from ..provisioners.inventory import inventory_from_data
from ..provisioners.local import (
    SWARM_DEFAULT_ADDR_POOL,
    SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
    LocalCluster,
    Machine,
    require_root,
)
from ..provisioners.local.sim import is_simulation
from ..spec import ClusterSpec
from .bootstrap import progress_for
from .local_sim import check_plain_up, emit_simulation_status, stop_simulation, up_simulation
from .options import spec_file_option

NAME_OPTION = click.option(
    "--name",
    default="local",
    show_default=True,
    help="Name of the local cluster (several can run side by side, each on its own /24).",
)


@click.group("local")
def local_group() -> None:
    """Real Debian machines on this box (systemd-nspawn) forming a real swarm; needs root.

    \b
    Each machine is a Debian 12 system with systemd, sshd and dockerd, its own network
    namespace and an address in 198.18.0.0/24 (docker inside stays in 198.19.0.0/16).
    The base image is built once (debootstrap, a minute or two) and cached in
    /var/cache/swarmstack; cluster state lives in /var/lib/swarmstack/local/NAME.
    """


def form_swarm(
    output: Output, cluster: LocalCluster, leaving: Sequence[Machine] = ()
) -> BootstrapResult:
    """Hand the machines to the SSH bootstrap, which forms or converges the swarm.

    The one hand-off point from `local up` to swarmstack.provisioners.bootstrap. While scaling
    down, ``leaving`` are the machines about to be powered off: they are listed as
    ``state: absent``, so their nodes are drained, demoted, leave and are removed first.
    """
    data = cluster.inventory()
    gone = {m.name for m in leaving}
    for host in data["hosts"]:
        if host.get("hostname") in gone:
            host["state"] = "absent"
    inventory = inventory_from_data(data, base=cluster.dir, source=f"local cluster {cluster.name}")
    spec = ClusterSpec.model_validate(
        {
            "name": "local",
            "manager_size": max(1, len(inventory.managers)),
            "cluster_size": len(inventory.workers),
            "default_addr_pool": [SWARM_DEFAULT_ADDR_POOL],
            "default_addr_pool_mask_length": SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
        }
    )
    output.info("forming the swarm" if not leaving else "taking the leaving machines out")
    return converge(spec, inventory, progress=progress_for(output), local_machine=True)


def _take_out(output: Output, cluster: LocalCluster, leaving: Sequence[Machine]) -> None:
    form_swarm(output, cluster, leaving)


@local_group.command("up")
@click.option(
    "--managers",
    type=int,
    default=None,
    help="Manager machines: 1, 3, 5 or 7.  [default: 3]",
)
@click.option("--workers", type=int, default=None, help="Worker machines.  [default: 2]")
@click.option(
    "--cloud",
    metavar="CLOUD",
    default=None,
    help="Run this cloud's real stack on simulated infrastructure (aws: moto's server, "
    "cloud-init, instance metadata); needs `pip install 'swarmstack[sim]'`.",
)
@spec_file_option("With --cloud aws: the cluster spec whose stack to run.")
@NAME_OPTION
@click.pass_obj
def up(
    output: Output,
    /,
    managers: int | None,
    workers: int | None,
    cloud: str | None,
    spec_file: Path | None,
    name: str,
) -> None:
    """Create (or scale) the local machines and form a swarm on them.

    \b
    Re-running with other counts scales: new machines join; surplus ones (highest numbers
    first) leave the swarm and are powered off. Needs root.
    With --cloud aws the stack swarmstack launches on AWS is created on a simulated AWS
    instead, and every instance its groups launch becomes a machine running the stack's
    real user data; the simulated AWS endpoint is printed for the AWS CLI.
    \b
    Examples:
      sudo swarmstack local up --managers 3 --workers 2
      sudo swarmstack local up --managers 3 --workers 5     # scale out
      sudo swarmstack local ssh ss-m1 -- docker node ls
      sudo swarmstack local up --cloud aws --managers 3 --workers 2 --name try
    """
    if cloud is not None:
        up_simulation(output, cloud, spec_file, managers, workers, name)
        return
    check_plain_up(spec_file)
    managers = 3 if managers is None else managers
    workers = 2 if workers is None else workers
    cluster = LocalCluster.up(
        managers,
        workers,
        name=name,
        progress=output.info,
        before_remove=lambda c, leaving: _take_out(output, c, leaving),
    )
    result = form_swarm(output, cluster)
    for warning in result.warnings:
        output.warn(warning)
    _emit_cluster(output, cluster, swarm=result)


@local_group.command("status")
@NAME_OPTION
@click.pass_obj
def status(output: Output, /, name: str) -> None:
    """Show the local machines: role, zone, address, running, SSH answering."""
    cluster = LocalCluster.open(name)
    if is_simulation(name):
        emit_simulation_status(output, cluster)
        return
    _emit_cluster(output, cluster, cluster.status())


@local_group.command("down")
@NAME_OPTION
@click.pass_obj
def down(output: Output, /, name: str) -> None:
    """Power off and delete the local machines, their network and state. Needs root."""
    require_root("swarmstack local down")
    if not LocalCluster.exists(name):
        output.emit(
            {"cluster": name, "removed": False},
            lambda console: console.print(
                f"no local cluster named {name}; nothing to do", markup=False
            ),
        )
        return
    stop_simulation(output, name)
    cluster = LocalCluster.open(name, progress=output.info)
    cluster.down()
    left = cluster.leftovers()
    if left:
        raise LocalProviderError(
            f"local cluster {name} is down, but some of it is left on the host:",
            *left,
            hint="scripts/testbed-clean.sh removes every local machine and its leftovers",
        )
    output.emit(
        {"cluster": name, "removed": True},
        lambda console: console.print(f"local cluster {name} removed", markup=False),
    )


@local_group.command(
    "ssh", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@NAME_OPTION
@click.argument("machine")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def ssh(output: Output, /, name: str, machine: str, command: tuple[str, ...]) -> None:
    """Open a shell on MACHINE (e.g. ss-m1), or run COMMAND there.

    \b
    Host keys are checked against the cluster's known_hosts; the user has sudo.
    Examples:
      swarmstack local ssh ss-m1
      swarmstack local ssh ss-m1 -- docker node ls
    """
    del output
    require_root("swarmstack local ssh")  # the cluster's key is readable by root only
    cluster = LocalCluster.open(name)
    args = cluster.ssh_command(machine, command, tty=not command)
    os.execvp(args[0], args)  # noqa: S606 - becomes the ssh client, argv as a list


def _emit_cluster(
    output: Output,
    cluster: LocalCluster,
    rows: list[dict[str, Any]] | None = None,
    swarm: BootstrapResult | None = None,
) -> None:
    if rows is None:
        rows = [
            {"name": m.name, "role": m.role, "zone": m.zone, "address": m.address}
            for m in cluster.machines
        ]
    first = cluster.managers[0].address if cluster.managers else None
    docker_host = f"ssh://{cluster.ssh_user}@{first}" if first else None
    data = {
        "cluster": cluster.name,
        "network": cluster.network,
        "machines": rows,
        "ssh": {
            "user": cluster.ssh_user,
            "key": str(cluster.ssh_key_path),
            "known_hosts": str(cluster.known_hosts_path),
            "config": str(cluster.ssh_config_path),
        },
        "docker_host": docker_host,
    }
    if swarm is not None:
        data["swarm"] = swarm.to_dict()

    def render(console: Console) -> None:
        columns = list(rows[0]) if rows else ["name", "role", "zone", "address"]
        console.print(table(columns, [[r[c] for c in columns] for r in rows]))
        if swarm is not None:
            console.print()
            nodes = [(n.hostname, n.address, n.role, n.state, n.availability) for n in swarm.nodes]
            console.print(table(("NODE", "ADDRESS", "ROLE", "STATE", "AVAILABILITY"), nodes))
            console.print("swarm converged" if swarm.changed else "swarm: no changes", markup=False)
        if docker_host is None:
            return
        console.print()
        console.print(
            f"Reach the swarm (host keys are pinned in {cluster.known_hosts_path}):", markup=False
        )
        named = "" if cluster.name == "local" else f" --name {cluster.name}"
        console.print(
            f"  swarmstack local ssh{named} {cluster.managers[0].name} -- docker node ls",
            markup=False,
        )
        console.print(
            f"  or add `Include {cluster.ssh_config_path}` to ~/.ssh/config, then:", markup=False
        )
        console.print(f"  DOCKER_HOST={docker_host} docker node ls", markup=False)

    output.emit(data, render)
