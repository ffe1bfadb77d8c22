"""`swarmstack azure status`: the cluster's resources, their state and sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..azure.inputs import check_resource_group
from ..output import Output, table
from .azure_options import cluster_name_options, connect, connection_options, group_option
from .options import load_named_spec


@click.command("status")
@group_option
@cluster_name_options
@connection_options
@click.pass_obj
def status_command(
    output: Output,
    /,
    group: str,
    spec_file: Path | None,
    name: str | None,
    subscription: str | None,
    arm_endpoint: str | None,
    poll_interval: float,
) -> None:
    """Show the cluster's resources, their provisioning state and sizes, and its nodes as they
    report themselves on their serial consoles (boot diagnostics; no SSH): role, address and
    SWARM - Ready (the node formed or joined the swarm itself), joining, over SSH (`azure
    deploy` forms this swarm), or no record (still booting, or no node agent)."""
    spec = load_named_spec(spec_file, {"name": name})
    check_resource_group(group)
    clients = connect(subscription, arm_endpoint, poll_interval)
    from ..azure.status import cluster_status

    result = cluster_status(clients, group, spec.name)

    def render(console: Console) -> None:
        rows = [
            [r["key"], r["name"], r["state"], r.get("instances", ""), r.get("size", "")]
            for r in result["resources"]
        ]
        console.print(table(["RESOURCE", "NAME", "STATE", "INSTANCES", "SIZE"], rows))
        console.print(f"public IP: {result.get('public_ip')}", markup=False)
        if result.get("nodes"):
            nodes = [
                [n["name"], n["role"], n["instance"], n["address"], swarm_state(n)]
                for n in result["nodes"]
            ]
            console.print(table(["NODE", "ROLE", "INSTANCE", "ADDRESS", "SWARM"], nodes))

    output.emit(result, render)


def swarm_state(node: dict[str, Any]) -> str:
    if not node["recorded"]:
        return "no record"
    return {True: "Ready", False: "joining", None: "over SSH"}[node["ready"]]
