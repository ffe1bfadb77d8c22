"""`swarmstack azure deploy`: deploy the cluster's ARM template, then wait for its swarm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ..azure.discover import Discovery
    from ..azure.node_records import NodeRecord


@click.command("deploy")
@group_option
@connection_options
@encryption_option
@click.option(
    "--ready-timeout",
    type=click.FloatRange(min=0),
    default=900.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for every node to be Ready in the swarm after the deployment.",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Return once the deployment succeeded, without waiting for the swarm.",
)
@click.option(
    "--ssh-bootstrap",
    is_flag=True,
    help="Also converge the swarm over SSH from here (needs ssh_cidr); the nodes form it "
    "without this.",
)
# Before the nodes formed the swarm themselves, --no-bootstrap meant "create the resources
# and return"; scripts that pass it get --no-wait.
@click.option("--no-bootstrap", is_flag=True, hidden=True)
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
    ready_timeout: float,
    no_wait: bool,
    ssh_bootstrap: bool,
    no_bootstrap: bool,
    dry_run: bool,
    yes: bool,
    **options: Any,
) -> None:
    """Deploy the cluster into a resource group; its nodes form the swarm themselves.

    \b
    Shows a plan first (create / update / no change per resource, and whether the template
    deployment is current) and asks before changing anything (--yes without a terminal).
    Then the cluster's ARM template - what `swarmstack azure template` prints - is deployed
    as one template deployment, swarmstack-NAME: network, scale sets, and the Key Vault,
    storage and role assignments with which the nodes form the swarm, heal it and follow
    published ports. deploy waits until every node says it is Ready (on its serial
    console), pins the SSH host keys they published and prints the nodes. No SSH is needed.
    Interrupted? Run the same command again: it waits for the deployment still running.
    The location is --location (the spec file's `region` key).

    \b
    Example:
      swarmstack azure deploy -g swarm-prod --location westeurope -f cluster.yaml \\
          --ssh-public-key "$(cat ~/.ssh/id_ed25519.pub)"
    """
    from ..azure.deploy import AzureDeployment  # the Azure SDK: only when Azure is called

    no_wait = no_wait or no_bootstrap

    ssh = cloud_ssh_from_options(options)
    label = "--location" if options.get("region") is not None else "region"
    spec = spec_from_options(options, scope=AZURE_DEPLOY)
    settings, location = AzureDeployment.check_inputs(
        spec,
        group,
        encryption_at_host=encryption_at_host,
        ssh_bootstrap=ssh_bootstrap and not dry_run,
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
    outputs: dict[str, Any] = {}
    if plan.has_changes:
        if not confirm(output, f"apply these changes to resource group {group}?", yes):
            output.info("nothing changed")
            return
        outputs = deployment.deploy(plan, poll_interval, engine_progress(output))
        applied = True
    else:
        output.info("no changes: the cluster already matches the spec")
    discovery = deployment.discover()
    progress = handoff_progress(output)
    swarm: dict[str, Any] = {"status": "not waited for", "reason": "--no-wait"}
    records: dict[str, NodeRecord] = {}
    if no_wait:
        output.info("--no-wait: not waiting for the nodes to form the swarm")
    else:
        output.info(f"waiting for {len(discovery.nodes)} node(s) to be Ready in the swarm")
        records = deployment.wait_for_swarm(discovery, ssh, progress, timeout=ready_timeout)
        swarm = {"status": "ready", "nodes": len(records)}
    bootstrap: dict[str, Any] = {"status": "skipped", "reason": "the nodes formed the swarm"}
    if ssh_bootstrap:
        bootstrap = deployment.bootstrap(discovery, ssh, progress)
    result = {
        "resource_group": group,
        "deployment": deployment.template.name,
        "plan": plan.as_dict(),
        "applied": applied,
        "outputs": outputs,
        "swarm": swarm,
        "bootstrap": bootstrap,
        **discovery.as_dict(),
    }
    output.emit(result, _render(discovery, records))


def _render(discovery: Discovery, records: dict[str, NodeRecord]) -> Any:
    from ..azure.handoff import instance_name

    def render(console: Console) -> None:
        rows = []
        for n in discovery.nodes:
            record = records.get(instance_name(n))
            state = "Ready" if record is not None and record.ready else "-"
            ssh = f"{n.ssh_host}:{n.ssh_port}" if n.ssh_port else "via a manager"
            rows.append([n.role, n.name, n.zone, n.private_ip, state, ssh])
        console.print(table(["ROLE", "NAME", "ZONE", "PRIVATE IP", "SWARM", "SSH"], rows))
        console.print(f"public IP: {discovery.public_ip}  admin user: {discovery.admin_username}")

    return render
