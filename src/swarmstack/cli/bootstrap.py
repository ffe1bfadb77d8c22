"""`swarmstack bootstrap`: form (or converge) a swarm over SSH on hosts you already have."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..output import Output, table
from ..provisioners.bootstrap import DEFAULT_MAX_PARALLEL, converge
from ..provisioners.inventory import load_inventory
from ..provisioners.outcome import BootstrapResult
from .options import connect_window_option, inventory_option, spec_from_options, spec_options
from .progress import progress_for
from .spec_scope import BOOTSTRAP


def emit_result(output: Output, result: BootstrapResult) -> None:
    """The node table on stdout (-o json: {"nodes": [...], "changed": ...})."""
    for warning in result.warnings:
        output.warn(warning)

    def render(console: Console) -> None:
        rows = [(n.address, n.hostname, n.role, n.state, n.availability) for n in result.nodes]
        console.print(table(("ADDRESS", "HOSTNAME", "ROLE", "STATE", "AVAILABILITY"), rows))
        console.print(
            "swarm converged" if result.changed else "no changes: the swarm is as described",
            markup=False,
        )

    output.emit(result.to_dict(), render)


def emit_plan(output: Output, result: BootstrapResult) -> None:
    """--plan: the steps a run would take, in order."""
    for warning in result.warnings:
        output.warn(warning)
    data = result.to_dict()

    def render(console: Console) -> None:
        rows = [(p["host"], p["action"], "", "") for p in data["prepare"]]
        for step in data["steps"]:
            details = ", ".join(f"{k}={v}" for k, v in sorted(step["details"].items()))
            rows.append((step["target"], step["action"], step["runs_on"], details))
        if rows:
            console.print(table(("HOST", "STEP", "RUNS ON", "DETAILS"), rows))
        console.print(
            f"{len(rows)} step(s) would run" if rows else "no changes: the swarm is as described",
            markup=False,
        )

    output.emit(data, render)


@click.command("bootstrap")
@inventory_option(
    "Inventory YAML: ssh settings and hosts with their roles (see examples/inventory.yaml)."
)
@click.option(
    "--trust-on-first-use",
    is_flag=True,
    default=False,
    help="Record the keys of hosts missing from known_hosts instead of refusing them. A key "
    "that does not match is refused either way.",
)
@connect_window_option
@click.option(
    "--max-parallel",
    type=click.IntRange(1, 256),
    default=DEFAULT_MAX_PARALLEL,
    show_default=True,
    help="Hosts worked on at the same time; also the most SSH connections kept open "
    "between uses (others are reconnected when needed).",
)
@click.option(
    "--tuning/--no-tuning",
    default=True,
    show_default=True,
    help="Apply the host tuning (sysctls, daemon.json) before forming the swarm.",
)
@click.option(
    "--plan",
    "dry_run",
    is_flag=True,
    help="Connect and read the hosts, print the steps a run would take, change nothing.",
)
@click.option(
    "--unlock-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With autolock: where the unlock key is kept, mode 0600 "
    "[default: ~/.config/swarmstack/NAME/unlock-key].",
)
@click.option(
    "--rotate-unlock-key",
    is_flag=True,
    help="With autolock: replace the swarm's unlock key with a new one (saved the same way).",
)
@spec_options(BOOTSTRAP)
@click.pass_obj
def bootstrap_command(
    output: Output,
    /,
    inventory_path: Path,
    trust_on_first_use: bool,
    connect_window: float | None,
    max_parallel: int,
    tuning: bool,
    dry_run: bool,
    unlock_key_file: Path | None,
    rotate_unlock_key: bool,
    **options: Any,
) -> None:
    """Form (or converge) a swarm over SSH on the hosts of an inventory file.

    Every run is a reconcile: it reads each host's state first and only changes what differs
    from the inventory and the spec - a second run on a formed swarm says "no changes". Hosts
    listed with `state: absent` are drained, demoted, leave and are removed. Host keys are
    always verified against ssh.known_hosts. --plan shows the steps without taking them.
    Roles and sizes come from the inventory; spec flags for cloud resources are refused.

    \b
    Inventory:
      ssh: {user: ops, key: ./id_ed25519, known_hosts: ./known_hosts, port: 22, bastion: null}
      hosts:
        - {address: 198.18.0.11, role: manager, zone: a}
        - {address: 198.18.0.14, role: worker}
    \b
    Examples:
      swarmstack bootstrap -i inventory.yaml --plan
      swarmstack bootstrap -i inventory.yaml
      swarmstack bootstrap -i inventory.yaml --default-addr-pool 10.20.0.0/16 -o json
    """
    spec = spec_from_options(options)
    inventory = load_inventory(inventory_path)
    if trust_on_first_use:
        ssh = dataclasses.replace(inventory.ssh, trust_on_first_use=True)
        inventory = dataclasses.replace(inventory, ssh=ssh)
    result = converge(
        spec,
        inventory,
        progress=progress_for(output),
        max_parallel=max_parallel,
        connect_window=connect_window,
        apply_host_tuning=tuning,
        dry_run=dry_run,
        unlock_key_file=unlock_key_file,
        rotate_unlock_key=rotate_unlock_key,
    )
    if dry_run:
        emit_plan(output, result)
    else:
        emit_result(output, result)
        if result.unlock_key_file:  # never the key itself
            saved = "saved in" if result.unlock_key_saved else "kept in"
            output.info(f"unlock key {saved} {result.unlock_key_file} (mode 0600)")
