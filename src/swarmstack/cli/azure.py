"""`swarmstack azure`: the Azure deployment and its lifecycle.

The Azure SDK is imported inside the commands that talk to Azure, so `--help`, `template` and
every other command start fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from ..errors import UsageError
from ..output import Output, table, write_output_file
from ..spec import AZURE_LOCATION, ClusterSpec
from ..specload import load_spec
from ..templates.azure import ConcreteRefs, build_resources, resolve_settings
from ..templates.azure.arm import arm_template, to_json
from ..templates.azure.parameters import parameter_values
from .cloud_bootstrap import cloud_ssh_from_options, cloud_ssh_options
from .options import confirm, spec_file_option, spec_from_options, spec_options, yes_option

if TYPE_CHECKING:
    from ..azure.clients import AzureClients
    from ..azure.engine import Event

F = TypeVar("F", bound=Callable[..., Any])
RESOURCE_GROUP = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")
SYMBOLS = {"create": "+", "update": "~", "resume": ">", "no change": "="}


@click.group("azure")
def azure_group() -> None:
    """Docker swarm on Azure with scale sets (deploy, template, status, destroy).

    \b
    Credentials: DefaultAzureCredential (az login, AZURE_CLIENT_ID/AZURE_TENANT_ID/
    AZURE_CLIENT_SECRET, workload or managed identity). Subscription: --subscription or
    AZURE_SUBSCRIPTION_ID. Custom clouds: --arm-endpoint plus AZURE_AUTHORITY_HOST;
    private CAs: REQUESTS_CA_BUNDLE.
    """


def _group_option(function: F) -> F:
    return click.option(
        "-g",
        "--resource-group",
        "group",
        required=True,
        metavar="GROUP",
        help="Resource group holding the cluster (created by deploy when missing).",
    )(function)


def _connection_options(function: F) -> F:
    function = click.option(
        "--poll-interval",
        type=click.FloatRange(min=0),
        default=5.0,
        show_default=True,
        help="Seconds between polls of long-running operations (Retry-After wins).",
    )(function)
    function = click.option(
        "--arm-endpoint",
        metavar="URL",
        default=None,
        help="Resource Manager endpoint of a custom cloud (sovereign cloud, Azure Stack Hub); "
        "set AZURE_AUTHORITY_HOST to its sign-in authority.",
    )(function)
    return click.option(
        "--subscription",
        metavar="ID",
        default=None,
        help="Subscription id [env AZURE_SUBSCRIPTION_ID].",
    )(function)


def _encryption_option(function: F) -> F:
    return click.option(
        "--encryption-at-host/--no-encryption-at-host",
        default=False,
        help="Encrypt VM temp disks and caches at the host (needs the EncryptionAtHost "
        "feature registered on the subscription).",
    )(function)


def _cluster_name_options(function: F) -> F:
    function = click.option(
        "--name", default=None, metavar="NAME", help="Cluster name [env SWARMSTACK_NAME]."
    )(function)
    return spec_file_option("Cluster spec YAML; only its name is used here.")(function)


@azure_group.command("template")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the template to FILE instead of stdout.",
)
@_encryption_option
@spec_options
@click.pass_obj
def template_command(
    output: Output, /, out: Path | None, encryption_at_host: bool, **options: Any
) -> None:
    """Print the cluster as an ARM template, to deploy by hand.

    \b
    The template holds the same resources `azure deploy` creates. Deploy it with:
      az group create -n GROUP -l LOCATION
      az deployment group create -g GROUP --template-file swarm.json \\
          --parameters sshPublicKey="$(cat ~/.ssh/id_ed25519.pub)"
    """
    spec = spec_from_options(options)
    settings = resolve_settings(spec, encryption_at_host=encryption_at_host, require_ssh_key=False)
    text = to_json(arm_template(settings))
    if out is None:
        click.echo(text, nl=False)
        return
    write_output_file(out, text)
    output.info(f"wrote {out} ({len(text)} bytes); deploy it with:")
    output.info(f"  az deployment group create -g GROUP --template-file {out}")


@azure_group.command("deploy")
@_group_option
@click.option(
    "--location",
    metavar="LOCATION",
    default=None,
    help="Azure location; default: the spec's region.",
)
@_connection_options
@_encryption_option
@click.option(
    "--no-bootstrap", is_flag=True, help="Create the resources only; skip the SSH bootstrap."
)
@click.option("--dry-run", is_flag=True, help="Show the plan and stop; change nothing.")
@yes_option
@cloud_ssh_options
@spec_options
@click.pass_obj
def deploy_command(
    output: Output,
    /,
    group: str,
    location: str | None,
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
    exists and resumes.

    \b
    Example:
      swarmstack azure deploy -g swarm-prod --location westeurope -f cluster.yaml \\
          --ssh-public-key "$(cat ~/.ssh/id_ed25519.pub)" --ssh-cidr 203.0.113.0/24
    """
    ssh = cloud_ssh_from_options(options)
    spec = spec_from_options(options)
    settings = resolve_settings(spec, encryption_at_host=encryption_at_host)
    where = _location(location, spec)
    _check_group(group)
    if not (no_bootstrap or dry_run) and spec.ssh_cidr is None:
        raise UsageError(
            "ssh_cidr=null: the SSH bootstrap needs SSH to the managers from your network",
            hint="set ssh_cidr (--ssh-cidr) to the network you run swarmstack from, "
            "or pass --no-bootstrap to create the resources only",
        )
    clients = _connect(subscription, arm_endpoint, poll_interval)
    from ..azure.apply import apply_plan
    from ..azure.discover import discover
    from ..azure.handoff import bootstrap_discovered_nodes
    from ..azure.plan import make_plan

    refs = ConcreteRefs(clients.subscription_id, group, parameter_values(settings, where))
    resources = build_resources(settings, refs)
    output.info(f"reading resource group {group} in subscription {clients.subscription_id}")
    plan = make_plan(clients, group, where, spec.name, dict(spec.tags), resources)
    _show_plan(output, plan)
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
        apply_plan(clients, plan, _progress(output), poll_interval)
        applied = True
    else:
        output.info("no changes: the cluster already matches the spec")
    discovery = discover(clients, group, settings.names, settings.admin_username)
    bootstrap: dict[str, Any] = {"status": "skipped", "reason": "--no-bootstrap"}
    if no_bootstrap:
        output.info("--no-bootstrap: the SSH bootstrap is skipped")
    else:
        bootstrap = bootstrap_discovered_nodes(output, spec, discovery, ssh)
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


@azure_group.command("destroy")
@_group_option
@_cluster_name_options
@_connection_options
@yes_option
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
) -> None:
    """Delete the cluster's resources (reverse dependency order) and wait until they are gone.

    Only resources tagged as this cluster's are deleted; the resource group too when
    swarmstack created it and nothing else is in it.
    """
    spec = _named_spec(spec_file, name)
    _check_group(group)
    clients = _connect(subscription, arm_endpoint, poll_interval)
    from ..azure.destroy import destroy, plan_destroy

    plan = plan_destroy(clients, group, spec.name)
    if not plan.targets and not plan.delete_group:
        output.emit_line(
            {**plan.as_dict(), "deleted": False},
            f"nothing of cluster {spec.name} in resource group {group}; nothing deleted",
        )
        return
    for target in reversed(plan.targets):  # roughly the order they go in
        output.info(f"  - delete  {target.label:<34} {target.type}")
    if plan.delete_group:
        output.info(f"  - delete  resource group {group}")
    else:
        output.info(f"  keep resource group {group}: {plan.keep_group_reason}")
    if not confirm(output, f"delete cluster {spec.name} from resource group {group}?", yes):
        output.info("nothing deleted")
        return
    destroy(clients, plan, _progress(output), poll_interval)
    result = {**plan.as_dict(), "deleted": True}

    def render(console: Console) -> None:
        kept = "deleted" if plan.delete_group else f"kept ({plan.keep_group_reason})"
        console.print(
            f"deleted {len(plan.targets)} resource(s) of cluster {spec.name}; "
            f"resource group {group} {kept}",
            markup=False,
        )

    output.emit(result, render)


@azure_group.command("status")
@_group_option
@_cluster_name_options
@_connection_options
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
    """Show the cluster's resources, their provisioning state and sizes."""
    spec = _named_spec(spec_file, name)
    _check_group(group)
    clients = _connect(subscription, arm_endpoint, poll_interval)
    from ..azure.status import cluster_status

    result = cluster_status(clients, group, spec.name)

    def render(console: Console) -> None:
        rows = [
            [r["key"], r["name"], r["state"], r.get("instances", ""), r.get("size", "")]
            for r in result["resources"]
        ]
        console.print(table(["RESOURCE", "NAME", "STATE", "INSTANCES", "SIZE"], rows))
        console.print(f"public IP: {result.get('public_ip')}", markup=False)

    output.emit(result, render)


def _named_spec(spec_file: Path | None, name: str | None) -> ClusterSpec:
    return load_spec(spec_file, {"name": name}, os.environ)


def _location(flag: str | None, spec: ClusterSpec) -> str:
    if flag is not None:
        if not AZURE_LOCATION.fullmatch(flag):
            raise UsageError(f"--location={flag}: must be an Azure location like westeurope")
        return flag
    if spec.region is None:
        raise UsageError("--location: required (or set region in the spec), like westeurope")
    if not AZURE_LOCATION.fullmatch(spec.region):
        raise UsageError(
            f"region={spec.region}: must be an Azure location like westeurope "
            "(this looks like an AWS region); or pass --location"
        )
    return spec.region


def _check_group(group: str) -> None:
    if not RESOURCE_GROUP.fullmatch(group):
        raise UsageError(
            f"--resource-group={group}: must be 1-90 letters, digits, '-', '_', '.', '(' or ')' "
            "and not end with '.'"
        )


def _connect(
    subscription: str | None, arm_endpoint: str | None, poll_seconds: float
) -> AzureClients:
    """Everything checked locally first; then the credential and the clients."""
    from ..azure import credentials
    from ..azure.clients import connect

    cloud = credentials.cloud_from(arm_endpoint, os.environ)
    subscription_id = credentials.subscription_from(subscription, os.environ)
    credential = credentials.default_credential(cloud)
    clients = connect(credential, subscription_id, cloud, poll_seconds)
    click.get_current_context().call_on_close(clients.close)
    return clients


def _show_plan(output: Output, plan: Any) -> None:
    if plan.create_group:
        output.info(f"  + create     resourceGroup ({plan.group}) in {plan.location}")
    for change in plan.changes:
        detail = ""
        if change.differences:
            detail = ": " + ", ".join(change.differences[:4])
            if len(change.differences) > 4:
                detail += f" and {len(change.differences) - 4} more"
        if change.action == "resume":
            detail = f": {change.state} (an earlier run was interrupted)"
        if change.capacity is not None:
            detail += f" ({change.capacity[0]} -> {change.capacity[1]} instances)"
        symbol = SYMBOLS[change.action]
        output.info(f"  {symbol} {change.action:<10} {change.label}{detail}")
        if change.scales_in:
            output.warn(
                f"{change.label} scales in: Azure removes instances without draining them; "
                "their swarm nodes stay listed as down until removed (docker node rm)"
            )


def _progress(output: Output) -> Callable[[Event], None]:
    def show(event: Event) -> None:
        detail = f"  {event.detail}" if event.detail else ""
        output.info(f"{event.elapsed:7.1f}s  {event.label:<34} {event.phase}{detail}")

    return show
