"""Options the aws stack commands share: connection, stack name, waiting, the deploy set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .cloud_ssh import cloud_ssh_options
from .options import load_named_spec, spec_file_option, spec_options, yes_option
from .spec_scope import AWS_STACK

if TYPE_CHECKING:
    from ..spec import ClusterSpec

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(function: F) -> F:
    """--profile and --endpoint-url (the region is the spec's `region`, flag --region)."""
    function = click.option(
        "--endpoint-url",
        metavar="URL",
        default=None,
        help="Send AWS calls to this endpoint (also AWS_ENDPOINT_URL), e.g. a local moto server.",
    )(function)
    return click.option(
        "--profile",
        metavar="NAME",
        default=None,
        help="AWS profile from your AWS config files (default: AWS_PROFILE or the chain).",
    )(function)


def stack_options(function: F) -> F:
    """Just enough of the spec to name a stack: -f, --name, --region."""
    function = click.option(
        "--region", default=None, metavar="REGION", help="AWS region [env SWARMSTACK_REGION]."
    )(function)
    function = click.option(
        "--name", default=None, metavar="NAME", help="Cluster (stack) name [env SWARMSTACK_NAME]."
    )(function)
    return spec_file_option("Cluster spec YAML; only its name and region are used here.")(function)


def stack_spec(spec_file: Path | None, name: str | None, region: str | None) -> ClusterSpec:
    return load_named_spec(spec_file, {"name": name, "region": region})


def wait_options(function: F) -> F:
    return click.option(
        "--no-wait", is_flag=True, help="Start the operation and return without watching it."
    )(function)


def deploy_options(function: F) -> F:
    for decorator in reversed(
        [
            click.option(
                "--plan", is_flag=True, help="Show the change set and stop; nothing changes."
            ),
            yes_option,
            wait_options,
            click.option(
                "--ssh-bootstrap",
                is_flag=True,
                help="After the nodes have formed the swarm, also converge it over SSH "
                "(needs ssh_cidr; hosts cloud-init tuned are not tuned again).",
            ),
            # The nodes form the swarm themselves; SSH is opt-in (--ssh-bootstrap). Kept so
            # that scripts written for the SSH hand-off still run.
            click.option("--no-bootstrap", is_flag=True, hidden=True),
            click.option(
                "--template-bucket",
                metavar="BUCKET",
                default=None,
                help="S3 bucket for templates over 51,200 bytes "
                "(default: swarmstack-templates-ACCOUNT-REGION, created private and encrypted).",
            ),
            cloud_ssh_options,
            connection_options,
            spec_options(AWS_STACK),
        ]
    ):
        function = decorator(function)
    return function
