"""What the local commands share: the cluster name options and the cluster table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from ..output import Output, table
from .options import load_named_spec, spec_file_option

if TYPE_CHECKING:
    from ..provisioners.local import LocalCluster
    from ..provisioners.outcome import BootstrapResult

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_NAME = "local"


def cluster_name_options(function: F) -> F:
    """-f and --name: which local cluster (several can run side by side)."""
    function = click.option(
        "--name",
        default=None,
        metavar="NAME",
        help=f"Name of the local cluster [default: {DEFAULT_NAME}; env SWARMSTACK_NAME].",
    )(function)
    return spec_file_option("Cluster spec YAML; only its name is used here.")(function)


def cluster_name(spec_file: Path | None, name: str | None) -> str:
    return load_named_spec(spec_file, {"name": name}, defaults={"name": DEFAULT_NAME}).name


def emit_cluster(
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
