"""`swarmstack local ssh`: a shell or a command on one local machine."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..output import Output
from .local_views import cluster_name, cluster_name_options


@click.command(
    "ssh", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@cluster_name_options
@click.argument("machine")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def ssh(
    output: Output,
    /,
    spec_file: Path | None,
    name: str | None,
    machine: str,
    command: tuple[str, ...],
) -> None:
    """Open a shell on MACHINE (e.g. ss-m1), or run COMMAND there.

    \b
    Host keys are checked against the cluster's known_hosts; the user has sudo.
    Examples:
      swarmstack local ssh ss-m1
      swarmstack local ssh ss-m1 -- docker node ls
    """
    from ..provisioners.local import LocalCluster, require_root

    del output
    require_root("swarmstack local ssh")  # the cluster's key is readable by root only
    cluster = LocalCluster.open(cluster_name(spec_file, name))
    args = cluster.ssh_command(machine, command, tty=not command)
    os.execvp(args[0], args)  # noqa: S606 - becomes the ssh client, argv as a list
