"""Options and helpers the azure commands share: resource group, connection, plan display.

The Azure SDK is imported inside the commands that talk to Azure, so `--help`, `template` and
every other command start fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..output import Output
from .options import spec_file_option

if TYPE_CHECKING:
    from ..azure.clients import AzureClients
    from ..azure.engine import Event
    from ..azure.plan import Plan

F = TypeVar("F", bound=Callable[..., Any])
SYMBOLS = {"create": "+", "update": "~", "resume": ">", "no change": "="}


def group_option(function: F) -> F:
    return click.option(
        "-g",
        "--resource-group",
        "group",
        required=True,
        metavar="GROUP",
        help="Resource group holding the cluster (created by deploy when missing).",
    )(function)


def connection_options(function: F) -> F:
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


def encryption_option(function: F) -> F:
    return click.option(
        "--encryption-at-host/--no-encryption-at-host",
        default=False,
        help="Encrypt VM temp disks and caches at the host (needs the EncryptionAtHost "
        "feature registered on the subscription).",
    )(function)


def cluster_name_options(function: F) -> F:
    function = click.option(
        "--name", default=None, metavar="NAME", help="Cluster name [env SWARMSTACK_NAME]."
    )(function)
    return spec_file_option("Cluster spec YAML; only its name is used here.")(function)


def connect(
    subscription: str | None, arm_endpoint: str | None, poll_seconds: float
) -> AzureClients:
    """Everything checked locally first; then the credential and the clients."""
    from ..azure import credentials
    from ..azure.clients import connect as connect_clients

    cloud = credentials.cloud_from(arm_endpoint, os.environ)
    subscription_id = credentials.subscription_from(subscription, os.environ)
    credential = credentials.default_credential(cloud)
    clients = connect_clients(credential, subscription_id, cloud, poll_seconds)
    click.get_current_context().call_on_close(clients.close)
    return clients


def show_plan(output: Output, plan: Plan) -> None:
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
            output.info(
                f"    {change.label} scales in: the node agents drain, demote and remove the "
                "leaving nodes on their Terminate events"
            )
    output.info(f"  {_DEPLOYMENT_LINES[plan.deployment]}")


# The cluster's template deployment (the Key Vault, storage and role assignments come with it).
_DEPLOYMENT_LINES = {
    "missing": "+ deploy     the cluster's ARM template (with its Key Vault, storage, roles)",
    "running": "> wait       for the template deployment still running, then deploy again",
    "failed": "~ deploy     the ARM template again (its last deployment did not succeed)",
    "outdated": "~ deploy     the ARM template again (it changed since its last deployment)",
    "current": "= no change  template deployment (as last deployed)",
}


def engine_progress(output: Output) -> Callable[[Event], None]:
    def show(event: Event) -> None:
        detail = f"  {event.detail}" if event.detail else ""
        output.info(f"{event.elapsed:7.1f}s  {event.label:<34} {event.phase}{detail}")

    return show
