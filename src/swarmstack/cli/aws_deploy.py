"""What `aws launch-stack` and `aws update-stack` share: driving a StackDeployment.

The flow (swarmstack.aws.stack_flow) creates, executes and watches the change set; this
module shows the change set, asks before executing it, prints the events and the result.
The nodes form the swarm themselves (the node agent); the stack completes only when every
node it waited for signalled Ready, and the result lists them (aws/readiness.py). SSH is
used only with --ssh-bootstrap, which is refused up front without ssh_cidr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..errors import ConfirmationRequired, UsageError
from ..output import Output, OutputFormat
from .aws_stack_views import (
    change_set_result,
    emit_simple,
    emit_started,
    failure_error,
    node_summary,
    print_change_set,
    render_stack,
    stack_result,
    swarm_result,
    swarm_summary,
)
from .aws_watch import watching
from .cloud_ssh import cloud_ssh_from_options, handoff_progress
from .options import confirm, spec_from_options

if TYPE_CHECKING:
    from ..aws.stack_flow import Mode


def deploy(output: Output, mode: Mode, options: dict[str, Any]) -> None:
    """launch-stack / update-stack: change set, confirmation, execution, watch, bootstrap."""
    from ..aws.console import console_host_keys  # boto3 and troposphere: only here
    from ..aws.handoff import bootstrap_discovered_nodes
    from ..aws.session import AwsSettings
    from ..aws.stack_flow import StackDeployment, resume_hint

    plan: bool = options.pop("plan")
    yes: bool = options.pop("yes")
    no_wait: bool = options.pop("no_wait")
    options.pop("no_bootstrap")  # the default now: the nodes form the swarm
    ssh_bootstrap: bool = options.pop("ssh_bootstrap")
    ssh = cloud_ssh_from_options(options)
    bucket: str | None = options.pop("template_bucket")
    settings = AwsSettings(profile=options.pop("profile"), endpoint_url=options.pop("endpoint_url"))
    spec = spec_from_options(options)  # every input problem is reported before any AWS call
    if ssh_bootstrap and not spec.ssh_cidr:
        raise UsageError(
            "--ssh-bootstrap needs ssh_cidr (--ssh-cidr): without it the stack lets no SSH in",
            hint="set ssh_cidr to the network you connect from, or leave out --ssh-bootstrap "
            "(the nodes form the swarm themselves)",
        )
    deployment = StackDeployment.start(spec, mode, settings, bucket=bucket, info=output.info)
    region = deployment.region

    proposal = deployment.propose()
    change_set = proposal.change_set
    base = {
        "stack": spec.name,
        "region": region,
        "change_set": change_set_result(change_set, proposal.changed_parameters),
        "template_url": proposal.source.url,
    }
    if proposal.empty:
        deployment.discard(proposal)
        emit_simple(output, {**base, "result": "no changes"}, f"stack {spec.name}: no changes")
        return
    if output.format is OutputFormat.TEXT:
        print_change_set(output.stdout, change_set, proposal.changed_parameters)
    if plan:
        deployment.discard(proposal)
        output.info("--plan: change set discarded, nothing changed")
        if output.format is not OutputFormat.TEXT:
            output.emit_line({**base, "result": "planned"}, "planned")
        return
    if not yes and output.format is not OutputFormat.TEXT:
        print_change_set(output.stderr, change_set, proposal.changed_parameters)  # what is asked
    try:
        proceed = confirm(output, f"Execute these {len(change_set.changes)} change(s)?", yes)
    except (click.Abort, KeyboardInterrupt, ConfirmationRequired):
        deployment.discard(proposal)  # leave nothing half-made behind
        raise
    if not proceed:
        deployment.discard(proposal)
        emit_simple(output, {**base, "result": "cancelled"}, "cancelled; nothing changed")
        return

    feed = deployment.execute(proposal)
    if no_wait:
        resume = resume_hint(deployment.connection, spec.name)
        emit_started(output, spec.name, region, proposal.kind.lower(), base, resume=resume)
        return
    with watching(output, spec.name) as (on_event, on_poll):
        outcome = deployment.watch(feed, on_event, on_poll)
    if not outcome.succeeded:
        raise failure_error(spec.name, outcome)

    final, nodes = deployment.settled(proposal)
    output.info(node_summary(nodes))
    output.info(swarm_summary(nodes))
    silent = [n.instance_id for n in nodes if not n.signalled_ready]
    if silent:
        output.warn(
            f"{len(silent)} instance(s) have not signalled Ready: {', '.join(silent[:10])}"
            " (their node agent's log: journalctl -u swarmstack-agent)"
        )
    bootstrap: dict[str, Any] = {"status": "skipped", "reason": "the nodes formed the swarm"}
    if ssh_bootstrap:
        ec2 = deployment.connection.ec2()
        bootstrap = bootstrap_discovered_nodes(
            spec, nodes, ssh, handoff_progress(output), lambda i: console_host_keys(ec2, i)
        )
    result = {
        **base,
        **stack_result(final, region, nodes),
        "result": "created" if proposal.kind == "CREATE" else "updated",
        "operation": outcome.to_dict(),
        "swarm": swarm_result(nodes),
        "bootstrap": bootstrap,
    }
    output.emit(result, render_stack(final, nodes))
