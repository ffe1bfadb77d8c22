"""`swarmstack aws`: the CloudFormation stack and its lifecycle (one command per module)."""

from __future__ import annotations

import click

from .aws_delete import delete_stack_command
from .aws_launch import launch_stack
from .aws_status import status_command
from .aws_template import template_command
from .aws_update import update_stack


@click.group("aws")
def aws_group() -> None:
    """Docker swarm on AWS with CloudFormation (template, launch-stack, status, ...)."""


for _command in (
    template_command,
    launch_stack,
    update_stack,
    delete_stack_command,
    status_command,
):
    aws_group.add_command(_command)
