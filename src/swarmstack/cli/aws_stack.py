"""`swarmstack aws launch-stack | update-stack | delete-stack | status`.

The stack lifecycle as a change-set workflow: render the template, create a change set,
show it, confirm, execute, watch the events, then discover the nodes and hand them to the
SSH bootstrap. Every command gives a machine-readable result with -o json/yaml.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal, TypeVar

import click
from rich.console import Console

from ..aws import stack_template
from ..aws.changesets import (
    ChangeSetType,
    create_change_set,
    discard_change_set,
    execute_change_set,
)
from ..aws.discovery import Node, discover_nodes
from ..aws.events import EventFeed, WatchResult, watch_stack
from ..aws.parameters import parameter_changes, parameter_values
from ..aws.session import AwsConnection, AwsSettings
from ..aws.stacks import (
    DEAD_STATES,
    REVIEW_STATE,
    Stack,
    delete_stack,
    describe_stack,
    retained_resources,
    stack_tags,
)
from ..aws.template_upload import remove_uploaded_templates, template_source
from ..errors import (
    ConfirmationRequired,
    ForeignStack,
    StackBusy,
    StackNotFound,
    StackOperationFailed,
    WatchInterrupted,
)
from ..output import Output, OutputFormat
from ..provisioners.inventory import Host
from ..spec import ClusterSpec
from ..specload import load_spec
from .aws import aws_group
from .aws_stack_views import (
    change_set_result,
    emit_simple,
    emit_started,
    failure_error,
    left_behind_table,
    node_summary,
    print_change_set,
    print_event,
    print_table,
    render_stack,
    resume_command,
    stack_result,
)
from .cloud_bootstrap import CloudSsh, bootstrap_hosts, cloud_ssh_from_options, cloud_ssh_options
from .options import confirm, spec_file_option, spec_from_options, spec_options, yes_option

F = TypeVar("F", bound=Callable[..., Any])
Mode = Literal["launch", "update"]


# --- options --------------------------------------------------------------------------------


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
                "--no-bootstrap",
                is_flag=True,
                help="Do not form the swarm over SSH after the stack is up.",
            ),
            click.option(
                "--template-bucket",
                metavar="BUCKET",
                default=None,
                help="S3 bucket for templates over 51,200 bytes "
                "(default: swarmstack-templates-ACCOUNT-REGION, created private and encrypted).",
            ),
            cloud_ssh_options,
            connection_options,
            spec_options,
        ]
    ):
        function = decorator(function)
    return function


def _settings(
    spec_region: str | None, profile: str | None, endpoint_url: str | None
) -> AwsSettings:
    return AwsSettings(profile=profile, region=spec_region, endpoint_url=endpoint_url)


def _stack_spec(spec_file: Path | None, name: str | None, region: str | None) -> ClusterSpec:
    return load_spec(spec_file, {"name": name, "region": region}, os.environ)


# The login user of the default image (Debian's cloud images); --ssh-user for others.
DEFAULT_SSH_USER = "admin"


# --- commands -------------------------------------------------------------------------------


@aws_group.command("launch-stack")
@deploy_options
@click.pass_obj
def launch_stack(output: Output, /, **options: Any) -> None:
    """Create the swarm's CloudFormation stack, or bring an existing one up to the spec.

    Shows the change set (action, logical id, type, replacement) and asks before executing
    it; watches the stack events until it settles; prints the nodes and the stack outputs.
    An unchanged spec is "no changes" (exit 0).

    \b
    Examples:
      swarmstack aws launch-stack --name prod -f cluster.yaml
      swarmstack aws launch-stack --name prod --cluster-size 8 --plan
      swarmstack aws launch-stack --name ci --key-name ops --yes --no-bootstrap -o json
    """
    _deploy(output, "launch", options)


@aws_group.command("update-stack")
@deploy_options
@click.pass_obj
def update_stack(output: Output, /, **options: Any) -> None:
    """Update an existing swarm stack to the spec (same flow as launch-stack).

    Fails when the stack does not exist, instead of creating it.

    \b
    Example:
      swarmstack aws update-stack --name prod -f cluster.yaml --cluster-size 12
    """
    _deploy(output, "update", options)


@aws_group.command("delete-stack")
@stack_options
@yes_option
@wait_options
@connection_options
@click.pass_obj
def delete_stack_command(
    output: Output,
    /,
    spec_file: Path | None,
    name: str | None,
    region: str | None,
    yes: bool,
    no_wait: bool,
    profile: str | None,
    endpoint_url: str | None,
) -> None:
    """Delete the swarm's stack and everything in it, after confirmation.

    Reports anything the delete left behind (resources that failed to delete or are kept by
    a retain policy).

    \b
    Example:
      swarmstack aws delete-stack --name prod --region eu-west-1
    """
    spec = _stack_spec(spec_file, name, region)
    connection = AwsConnection(_settings(spec.region, profile, endpoint_url))
    connection.account_id()
    cfn = connection.cloudformation()
    stack = describe_stack(cfn, spec.name)
    if stack is None:
        raise StackNotFound(f"stack {spec.name} does not exist in {connection.region}")
    _refuse_foreign(stack)
    if stack.busy:
        raise StackBusy(
            f"stack {stack.name} is {stack.status}",
            hint=f"watch it with: {resume_command(stack.name, connection.region)}",
        )
    nodes = discover_nodes(connection, stack.stack_id)
    output.info(
        f"stack {stack.name} ({stack.status}) in {connection.region} will be deleted with "
        f"every resource in it, including {len(nodes)} instance(s)"
    )
    if not confirm(output, f"Delete stack {stack.name}?", yes):
        emit_simple(output, {"stack": stack.name, "result": "cancelled"}, "cancelled")
        return
    feed = _primed_feed(connection, stack.stack_id)
    delete_stack(cfn, stack.stack_id)
    if no_wait:
        emit_started(output, stack.name, connection.region, "delete")
        return
    outcome = _watch(output, connection, feed, stack.name)
    left = retained_resources(cfn, stack.stack_id)
    left_ids = {row["logical_id"] for row in left}
    left += [
        {
            "logical_id": e.logical_id,
            "physical_id": e.physical_id,
            "type": e.resource_type,
            "status": e.status,
            "reason": e.reason,
        }
        for e in outcome.events
        if e.status == "DELETE_SKIPPED" and e.logical_id not in left_ids
    ]
    if not outcome.succeeded:
        raise failure_error(stack.name, outcome, left)
    removed = remove_uploaded_templates(connection, stack.name)
    result = {
        "stack": stack.name,
        "region": connection.region,
        "result": "deleted",
        "status": outcome.status,
        "operation": outcome.to_dict(),
        "left_behind": left,
        "templates_removed": removed,
    }

    def render(console: Console) -> None:
        console.print(f"stack {stack.name} deleted", markup=False)
        if left:
            print_table(console, left_behind_table(left))

    output.emit(result, render)


@aws_group.command("status")
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
    spec = _stack_spec(spec_file, name, region)
    connection = AwsConnection(_settings(spec.region, profile, endpoint_url))
    connection.account_id()
    cfn = connection.cloudformation()
    stack = describe_stack(cfn, spec.name)
    if stack is None:
        raise StackNotFound(
            f"stack {spec.name} does not exist in {connection.region} (never created, or deleted)"
        )
    if wait and stack.busy:
        output.info(f"stack {stack.name} is {stack.status}; watching (Ctrl-C stops watching)")
        outcome = _watch(output, connection, _primed_feed(connection, stack.stack_id), stack.name)
        if not outcome.succeeded:
            raise failure_error(stack.name, outcome)
        refreshed = describe_stack(cfn, stack.stack_id)
        if refreshed is None or refreshed.status == "DELETE_COMPLETE":
            raise StackNotFound(f"stack {spec.name} was deleted")
        stack = refreshed
    nodes = [] if stack.status == REVIEW_STATE else discover_nodes(connection, stack.stack_id)
    output.emit(stack_result(stack, connection.region, nodes), render_stack(stack, nodes))
    if stack.status in DEAD_STATES:  # shown in full above; the exit code says it failed
        raise StackOperationFailed(
            f"stack {stack.name} is {stack.status}" + (f": {stack.reason}" if stack.reason else "")
        )


# --- the launch/update flow -----------------------------------------------------------------


def _deploy(output: Output, mode: Mode, options: dict[str, Any]) -> None:
    plan: bool = options.pop("plan")
    yes: bool = options.pop("yes")
    no_wait: bool = options.pop("no_wait")
    no_bootstrap: bool = options.pop("no_bootstrap")
    ssh = cloud_ssh_from_options(options)
    bucket: str | None = options.pop("template_bucket")
    settings = AwsSettings(profile=options.pop("profile"), endpoint_url=options.pop("endpoint_url"))
    spec = spec_from_options(options)  # every input problem is reported before any AWS call
    body = stack_template.render_body(spec)
    parameters = parameter_values(body)

    connection = AwsConnection(_settings(spec.region, settings.profile, settings.endpoint_url))
    connection.account_id()
    region = connection.region
    cfn = connection.cloudformation()
    stack = describe_stack(cfn, spec.name)
    kind = _change_set_type(mode, spec.name, stack, connection)

    source = template_source(connection, body, spec.name, bucket)
    output.info(
        f"creating the change set ({kind}) for stack {spec.name} in {region} "
        f"(template {len(body.encode()):,} bytes, {source.describe()})"
    )
    current = stack.parameters if stack is not None and kind == "UPDATE" else {}
    changed_parameters = parameter_changes(current, parameters) if current else []
    change_set = create_change_set(
        cfn,
        stack_name=spec.name,
        kind=kind,
        template=source,
        parameters=parameters,
        tags=stack_tags(spec.name, spec.tags),
    )
    base = {
        "stack": spec.name,
        "region": region,
        "change_set": change_set_result(change_set, changed_parameters),
        "template_url": source.url,
    }
    if change_set.empty:
        discard_change_set(cfn, change_set)
        emit_simple(output, {**base, "result": "no changes"}, f"stack {spec.name}: no changes")
        return
    if output.format is OutputFormat.TEXT:
        print_change_set(output.stdout, change_set, changed_parameters)
    if plan:
        discard_change_set(cfn, change_set)
        output.info("--plan: change set discarded, nothing changed")
        if output.format is not OutputFormat.TEXT:  # text mode printed the change set above
            output.emit_line({**base, "result": "planned"}, "planned")
        return
    if not yes and output.format is not OutputFormat.TEXT:
        print_change_set(output.stderr, change_set, changed_parameters)  # what is asked
    try:
        proceed = confirm(output, f"Execute these {len(change_set.changes)} change(s)?", yes)
    except (click.Abort, KeyboardInterrupt, ConfirmationRequired):
        discard_change_set(cfn, change_set)  # leave nothing half-made behind
        raise
    if not proceed:
        discard_change_set(cfn, change_set)
        emit_simple(output, {**base, "result": "cancelled"}, "cancelled; nothing changed")
        return

    feed = _primed_feed(connection, change_set.stack_id)
    execute_change_set(cfn, change_set)
    if no_wait:
        emit_started(output, spec.name, region, kind.lower(), base)
        return
    outcome = _watch(output, connection, feed, spec.name)
    if not outcome.succeeded:
        raise failure_error(spec.name, outcome)

    final = describe_stack(cfn, change_set.stack_id)
    if final is None:  # pragma: no cover - a stack that just completed is there
        raise StackNotFound(f"stack {spec.name} vanished after {outcome.status}")
    nodes = discover_nodes(connection, final.stack_id)
    output.info(node_summary(nodes))
    if no_bootstrap:
        bootstrap: dict[str, Any] = {"status": "skipped", "reason": "--no-bootstrap"}
    else:
        bootstrap = bootstrap_discovered_nodes(output, spec, nodes, ssh)
    result = {
        **base,
        **stack_result(final, region, nodes),
        "result": "created" if kind == "CREATE" else "updated",
        "operation": outcome.to_dict(),
        "bootstrap": bootstrap,
    }
    output.emit(result, render_stack(final, nodes))


def bootstrap_discovered_nodes(
    output: Output, spec: ClusterSpec, nodes: Sequence[Node], ssh: CloudSsh
) -> dict[str, Any]:
    """Hand the stack's running nodes to the SSH bootstrap that forms the swarm.

    SSH goes to each node's public address when it has one (new VPC), else its private one
    (existing VPC: run from inside it); the swarm always advertises the private address.
    """
    hosts = [
        Host(
            address=node.public_ip or node.private_ip,
            role=node.role,
            zone=node.zone,
            private_address=node.private_ip,
            hostname=node.instance_id,
        )
        for node in nodes
        if node.state == "running" and node.private_ip
    ]
    return bootstrap_hosts(output, spec, hosts, ssh.settings(spec, DEFAULT_SSH_USER))


def _change_set_type(
    mode: Mode, name: str, stack: Stack | None, connection: AwsConnection
) -> ChangeSetType:
    """CREATE for a new stack, UPDATE for one of ours that can take it; else a clear error."""
    if stack is not None:
        _refuse_foreign(stack)
    if stack is not None and stack.status == REVIEW_STATE:
        # An empty shell left by an earlier unexecuted CREATE change set: start afresh.
        cfn = connection.cloudformation()
        delete_stack(cfn, stack.stack_id)
        watch_stack(cfn, stack.stack_id, on_event=lambda event: None)
        stack = None
    if stack is None:
        if mode == "update":
            raise StackNotFound(
                f"stack {name} does not exist in {connection.region}",
                hint=f"create it with: swarmstack aws launch-stack --name {name}",
            )
        return "CREATE"
    if stack.status in DEAD_STATES:
        raise StackBusy(
            f"stack {name} is {stack.status}: it failed and can only be deleted",
            hint=f"swarmstack aws delete-stack --name {name} --region {connection.region}",
        )
    if stack.busy:
        raise StackBusy(
            f"stack {name} is {stack.status}; wait for it to settle",
            hint=f"watch it with: {resume_command(name, connection.region)}",
        )
    return "UPDATE"


def _refuse_foreign(stack: Stack) -> None:
    if not stack.managed_by_swarmstack:
        raise ForeignStack(
            f"stack {stack.name} exists and was not created by swarmstack; it is left alone",
            hint="choose another --name",
        )


# --- watching -------------------------------------------------------------------------------


def _primed_feed(connection: AwsConnection, stack_id: str) -> EventFeed:
    """A feed that has already seen the stack's past events, so only the new operation's
    events are shown (no clock comparison, so local clock skew does not matter)."""
    feed = EventFeed(connection.cloudformation(), stack_id)
    feed.poll()
    return feed


def _watch(output: Output, connection: AwsConnection, feed: EventFeed, name: str) -> WatchResult:
    started = time.monotonic()
    progress = (
        output.stderr.status(f"{name}: waiting", spinner="dots")
        if output.interactive and output.verbosity >= 0
        else nullcontext()
    )

    def on_poll(status: str) -> None:
        if hasattr(progress, "update"):
            elapsed = int(time.monotonic() - started)
            progress.update(f"{name}: {status} ({elapsed // 60}m{elapsed % 60:02d}s)")

    with _stop_watching_on_interrupt(name, connection.region), progress:
        return watch_stack(
            connection.cloudformation(),
            feed.stack_id,
            feed=feed,
            on_event=lambda event: print_event(output, event),
            on_poll=on_poll,
        )


@contextmanager
def _stop_watching_on_interrupt(name: str, region: str) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise WatchInterrupted(
            f"stopped watching stack {name}; the operation continues in CloudFormation",
            hint=f"resume watching with: {resume_command(name, region)}",
        ) from None
