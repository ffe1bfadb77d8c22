"""`swarmstack aws launch-stack`: create the swarm's stack or bring it up to the spec."""

from __future__ import annotations

from typing import Any

import click

from ..output import Output
from .aws_deploy import deploy
from .aws_options import deploy_options


@click.command("launch-stack")
@deploy_options
@click.pass_obj
def launch_stack(output: Output, /, **options: Any) -> None:
    """Create the swarm's CloudFormation stack, or bring an existing one up to the spec.

    Shows the change set (action, logical id, type, replacement) and asks before executing
    it; watches the stack events until it settles; prints the nodes and the stack outputs.
    The nodes form the swarm themselves: the stack completes once every node signalled that
    it is Ready in the swarm, so no SSH is needed (--ssh-bootstrap converges over SSH too).
    An unchanged spec is "no changes" (exit 0).

    \b
    Examples:
      swarmstack aws launch-stack --name prod -f cluster.yaml
      swarmstack aws launch-stack --name prod --cluster-size 8 --plan
      swarmstack aws launch-stack --name ci --key-name ops --yes -o json
    """
    deploy(output, "launch", options)
