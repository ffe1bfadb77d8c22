"""`swarmstack azure deploy`: create or update the cluster, then bootstrap the swarm."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from ..output import Output, table
from .azure_options import (
    connect,
    connection_options,
    encryption_option,
    engine_progress,
    group_option,
    show_plan,
)
from .cloud_ssh import cloud_ssh_from_options, cloud_ssh_options, handoff_progress
from .options import confirm, spec_from_options, spec_options, yes_option
from .spec_scope import AZURE_DEPLOY


@click.command("deploy")
@group_option
@connection_options
@encryption_option
@click.option(
    "--no-bootstrap", is_flag=True, help="Create the resources only; skip the SSH bootstrap."
)
@click.option("--dry-run", is_flag=True, help="Show the plan and stop; change nothing.")
@yes_option
@cloud_ssh_options
@spec_options(AZURE_DEPLOY)
@click.pass_obj
def deploy_command(
    output: Output,
    /,
    group: str,
    subscription: str | None,
    arm_endpoint: str | None,
    poll_interval: float,
    encryption_at_host: bool,
    no_bootstrap: bool,
    dry_run: bool,
    yes: bool,
    **options: Any,
) -> None:
    """Create or update the cluster in a resource group, then bootstrap the swarm.

    \b
    Shows a plan first (create / update / resume / no change per resource) and asks before
    changing anything (--yes without a terminal). Resources are applied in dependency order,
    independent ones in parallel. Interrupted? Run the same command again: it re-reads what
    exists and resumes. The location is --location (the spec file's `region` key).

    \b
    Example:
      swarmstack azure deploy -g swarm-prod --location westeurope -f cluster.yaml \\
          --ssh-public-key "$(cat ~/.ssh/id_ed25519.pub)" --ssh-cidr 203.0.113.0/24
    """
    from ..azure.deploy import AzureDeployment  # the Azure SDK: only when Azure is called

    ssh = cloud_ssh_from_options(options)
    label = "--location" if options.get("region") is not None else "region"
    spec = spec_from_options(options, scope=AZURE_DEPLOY)
    settings, location = AzureDeployment.check_inputs(
        spec,
        group,
        encryption_at_host=encryption_at_host,
        bootstrap=not (no_bootstrap or dry_run),
        location_label=label,
    )
    clients = connect(subscription, arm_endpoint, poll_interval)
    deployment = AzureDeployment(clients, spec, settings, group, location)
    output.info(f"reading resource group {group} in subscription {clients.subscription_id}")
    plan = deployment.plan()
    show_plan(output, plan)
    if dry_run:
        output.emit_line(
            {"resource_group": group, "plan": plan.as_dict(), "applied": False},
            f"--dry-run: resource group {group} "
            + ("would change as shown above" if plan.has_changes else "is up to date")
            + "; nothing changed",
        )
        return
    applied = False
    if plan.has_changes:
        if not confirm(output, f"apply these changes to resource group {group}?", yes):
            output.info("nothing changed")
            return
        deployment.apply(plan, poll_interval, engine_progress(output))
        applied = True
    else:
        output.info("no changes: the cluster already matches the spec")
    discovery = deployment.discover()
    bootstrap: dict[str, Any] = {"status": "skipped", "reason": "--no-bootstrap"}
    if no_bootstrap:
        output.info("--no-bootstrap: the SSH bootstrap is skipped")
    else:
        bootstrap = deployment.bootstrap(discovery, ssh, handoff_progress(output))
    result = {
        "resource_group": group,
        "plan": plan.as_dict(),
        "applied": applied,
        "bootstrap": bootstrap,
        **discovery.as_dict(),
    }

    def render(console: Console) -> None:
        rows = [
            [
                n.role,
                n.name,
                n.zone,
                n.private_ip,
                f"{n.ssh_host}:{n.ssh_port}" if n.ssh_port else "via a manager",
            ]
            for n in discovery.nodes
        ]
        console.print(table(["ROLE", "NAME", "ZONE", "PRIVATE IP", "SSH"], rows))
        console.print(f"public IP: {discovery.public_ip}  admin user: {discovery.admin_username}")

    output.emit(result, render)
