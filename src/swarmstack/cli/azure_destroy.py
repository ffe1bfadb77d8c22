"""`swarmstack azure destroy`: delete the cluster's resources."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ..azure.inputs import check_resource_group
from ..output import Output
from .azure_options import (
    cluster_name_options,
    connect,
    connection_options,
    engine_progress,
    group_option,
)
from .options import confirm, load_named_spec, yes_option


@click.command("destroy")
@group_option
@cluster_name_options
@connection_options
@yes_option
@click.option(
    "--delete-volumes",
    is_flag=True,
    help="Also delete the storage account of shared storage, and with it every service "
    "volume's data (kept by default).",
)
@click.pass_obj
def destroy_command(
    output: Output,
    /,
    group: str,
    spec_file: Path | None,
    name: str | None,
    subscription: str | None,
    arm_endpoint: str | None,
    poll_interval: float,
    yes: bool,
    delete_volumes: bool,
) -> None:
    """Delete the cluster's resources (reverse dependency order) and wait until they are gone.

    Only resources tagged as this cluster's are deleted; the resource group too when
    swarmstack created it and nothing else is in it. With shared storage, the storage
    account holding the service volumes is kept (its private endpoint and DNS go with the
    network) unless --delete-volumes is given.

    \b
    Example:
      swarmstack azure destroy --name prod -g prod-rg
    """
    spec = load_named_spec(spec_file, {"name": name})
    check_resource_group(group)
    clients = connect(subscription, arm_endpoint, poll_interval)
    from ..azure.destroy import destroy, plan_destroy

    plan = plan_destroy(clients, group, spec.name, delete_volumes=delete_volumes)
    if not plan.targets and not plan.delete_group:
        output.emit_line(
            {**plan.as_dict(), "deleted": False},
            f"nothing of cluster {spec.name} in resource group {group}; nothing deleted",
        )
        return
    for target in reversed(plan.targets):  # roughly the order they go in
        output.info(f"  - delete  {target.label:<34} {target.type}")
    if plan.kept_vault:
        output.info(
            f"  keep Key Vault {plan.kept_vault}: purge protection would hold its name for "
            "days; the next deployment of the cluster reuses it (delete it with "
            f"`az keyvault delete --name {plan.kept_vault}` when the cluster is gone for good)"
        )
    if plan.kept_volumes:
        output.info(
            f"  keep storage account {plan.kept_volumes} with the service volumes (their "
            "data); a new deployment of the cluster reaches it again. Delete it with "
            "--delete-volumes, or later with "
            f"`az storage account delete --name {plan.kept_volumes} --resource-group {group}`"
        )
    if plan.delete_group:
        output.info(f"  - delete  resource group {group}")
    else:
        output.info(f"  keep resource group {group}: {plan.keep_group_reason}")
    question = f"delete cluster {spec.name} from resource group {group}"
    if any(target.key == "volumes" for target in plan.targets):
        question += ", with the data of its service volumes"
    if not confirm(output, question + "?", yes):
        output.info("nothing deleted")
        return
    destroy(clients, plan, engine_progress(output), poll_interval)
    result = {**plan.as_dict(), "deleted": True}

    def render(console: Console) -> None:
        kept = "deleted" if plan.delete_group else f"kept ({plan.keep_group_reason})"
        console.print(
            f"deleted {len(plan.targets)} resource(s) of cluster {spec.name}; "
            f"resource group {group} {kept}",
            markup=False,
        )

    output.emit(result, render)
