"""`swarmstack aws update-stack`: update an existing swarm stack to the spec."""

from __future__ import annotations

from typing import Any

import click

from ..output import Output
from .aws_deploy import deploy
from .aws_options import deploy_options


@click.command("update-stack")
@deploy_options
@click.pass_obj
def update_stack(output: Output, /, **options: Any) -> None:
    """Update an existing swarm stack to the spec (same flow as launch-stack).

    Fails when the stack does not exist, instead of creating it.

    \b
    Example:
      swarmstack aws update-stack --name prod -f cluster.yaml --cluster-size 12
    """
    deploy(output, "update", options)
