"""`swarmstack aws`: the CloudFormation stack and its lifecycle."""

from __future__ import annotations

import click


@click.group("aws")
def aws_group() -> None:
    """Docker swarm on AWS with CloudFormation (template, launch-stack, status, ...)."""
