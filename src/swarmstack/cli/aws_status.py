"""`swarmstack aws status`: the stack's state, outputs and nodes; --wait resumes watching."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import StackNotFound, StackOperationFailed
from ..output import Output
from .aws_options import connection_options, stack_options, stack_spec
from .aws_stack_views import failure_error, render_stack, stack_result
from .aws_watch import watching


@click.command("status")
@stack_options
@click.option("--wait", is_flag=True, help="Watch a running operation until it settles.")
@connection_options
@click.pass_obj
def status_command(
    output: Output,
    /,
    spec_file: Path | None,
    name: str | None,
    region: str | None,
    wait: bool,
    profile: str | None,
    endpoint_url: str | None,
) -> None:
    """Show the stack's state, its outputs and its nodes per role.

    With --wait, first watch a running create/update/delete until it settles (this is how
    to resume watching after Ctrl-C). Exit 1 when the stack does not exist, or is in a
    failed state (it is still shown).

    \b
    Example:
      swarmstack aws status --name prod --wait
    """
    from ..aws.discovery import discover_nodes  # boto3: only when AWS is called
    from ..aws.session import AwsSettings
    from ..aws.stack_flow import connect, find_stack, primed_feed, watch
    from ..aws.stacks import DEAD_STATES, REVIEW_STATE

    spec = stack_spec(spec_file, name, region)
    connection = connect(AwsSettings(profile, spec.region, endpoint_url))
    stack = find_stack(connection, spec.name)
    if wait and stack.busy:
        output.info(f"stack {stack.name} is {stack.status}; watching (Ctrl-C stops watching)")
        feed = primed_feed(connection, stack.stack_id)
        with watching(output, stack.name) as (on_event, on_poll):
            outcome = watch(connection, feed, stack.name, on_event=on_event, on_poll=on_poll)
        if not outcome.succeeded:
            raise failure_error(stack.name, outcome)
        stack = find_stack(connection, stack.stack_id)
        if stack.status == "DELETE_COMPLETE":
            raise StackNotFound(f"stack {spec.name} was deleted")
    nodes = [] if stack.status == REVIEW_STATE else discover_nodes(connection, stack.stack_id)
    output.emit(stack_result(stack, connection.region, nodes), render_stack(stack, nodes))
    if stack.status in DEAD_STATES:  # shown in full above; the exit code says it failed
        raise StackOperationFailed(
            f"stack {stack.name} is {stack.status}" + (f": {stack.reason}" if stack.reason else "")
        )
