"""`swarmstack volume mount-string`: the --mount value for a volume on the shared storage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from ..output import Output
from .aws_options import connection_options, stack_options, stack_spec

if TYPE_CHECKING:
    from ..volumes import NfsExport


@click.group("volume")
def volume_group() -> None:
    """Service volumes on the cluster's shared storage (EFS on AWS, Azure Files on Azure)."""


@volume_group.command("mount-string")
@click.argument("volume")
@click.option(
    "--target", default="/data", show_default=True, help="Path of the volume in the container."
)
@stack_options
@connection_options
@click.option(
    "-g",
    "--resource-group",
    "group",
    default=None,
    metavar="GROUP",
    help="Azure: the cluster's resource group (without it, the AWS stack is asked).",
)
@click.option("--subscription", metavar="ID", default=None, help="Azure subscription id.")
@click.option("--arm-endpoint", metavar="URL", default=None, help="Azure Resource Manager URL.")
@click.pass_obj
def mount_string_command(
    output: Output,
    /,
    volume: str,
    target: str,
    spec_file: Path | None,
    name: str | None,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    group: str | None,
    subscription: str | None,
    arm_endpoint: str | None,
) -> None:
    """Print the `--mount` value that puts VOLUME on the cluster's shared NFS storage.

    The stack (AWS) or resource group (Azure) must have been created with shared_storage.
    The volume is a directory of the share; stderr shows the one-off command that creates it
    (run it once, on any node, before the first service uses the volume).

    \b
    Example:
      swarmstack volume mount-string db --name prod
      docker service create --name db --mount \\
        "$(swarmstack volume mount-string db --name prod --target /var/lib/postgresql/data)" \\
        postgres:17
    """
    from ..volumes import check_target, check_volume_name

    check_volume_name(volume)
    check_target(target)
    spec = stack_spec(spec_file, name, region)
    if group is None:
        export = _efs(spec.name, spec.region, profile, endpoint_url)
    else:
        export = _azure_files(group, spec.name, subscription, arm_endpoint)
    from ..volumes import mount_value, prepare_command

    mount = mount_value(export, volume, target)
    prepare = prepare_command(export, volume)
    output.info(f"create the volume's directory once, on any node: {prepare}")

    def render(console: Console) -> None:
        console.print(mount, markup=False, soft_wrap=True, highlight=False)

    output.emit(
        {"volume": volume, "server": export.server, "mount": mount, "prepare": prepare}, render
    )


def _efs(stack: str, region: str | None, profile: str | None, endpoint: str | None) -> NfsExport:
    from ..aws.session import AwsSettings  # boto3: only when AWS is called
    from ..aws.stack_flow import connect, find_stack
    from ..volumes import efs_export

    connection = connect(AwsSettings(profile, region, endpoint))
    return efs_export(stack, find_stack(connection, stack).outputs)


def _azure_files(group: str, cluster: str, subscription: str | None, arm: str | None) -> NfsExport:
    from ..azure.inputs import check_resource_group
    from ..azure.volumes import find_volumes_account
    from ..templates.azure.storage import SHARE_NAME
    from ..volumes import azure_files_export
    from .azure_options import connect

    check_resource_group(group)
    clients = connect(subscription, arm, poll_seconds=5.0)
    return azure_files_export(find_volumes_account(clients, group, cluster), SHARE_NAME)
