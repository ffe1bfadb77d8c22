"""`swarmstack aws delete-stack`: delete the swarm's stack after confirmation."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ..errors import UsageError
from ..output import Output
from .aws_options import connection_options, stack_options, stack_spec, wait_options
from .aws_stack_views import (
    emit_simple,
    emit_started,
    failure_error,
    left_behind_table,
    print_table,
)
from .aws_watch import watching
from .options import confirm, yes_option


@click.command("delete-stack")
@stack_options
@yes_option
@wait_options
@connection_options
@click.option(
    "--delete-volumes",
    is_flag=True,
    help="Also delete the EFS file system of shared storage once the stack is gone, and "
    "with it every service volume's data (kept by default).",
)
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
    delete_volumes: bool,
) -> None:
    """Delete the swarm's stack and everything in it, after confirmation.

    Reports anything the delete left behind (resources that failed to delete or are kept by
    a retain policy). The EFS file system of shared storage (service volumes) is kept unless
    --delete-volumes is given; the command says how to delete it later.

    \b
    Example:
      swarmstack aws delete-stack --name prod --region eu-west-1
    """
    from ..aws.session import AwsSettings  # boto3: only when AWS is called
    from ..aws.stack_flow import StackDeletion, connect, resume_hint

    if delete_volumes and no_wait:
        raise UsageError(
            "--delete-volumes: needs the stack's deletion watched to its end (the file system "
            "goes after the stack), so it cannot be combined with --no-wait"
        )
    spec = stack_spec(spec_file, name, region)
    connection = connect(AwsSettings(profile, spec.region, endpoint_url))
    deletion = StackDeletion(connection, spec.name)
    stack = deletion.stack
    output.info(
        f"stack {stack.name} ({stack.status}) in {connection.region} will be deleted with "
        f"every resource in it, including {len(deletion.nodes())} instance(s)"
    )
    volumes = stack.outputs.get("CloudStorEfsFileSystemId")
    question = f"Delete stack {stack.name}?"
    if volumes and delete_volumes:
        output.info(f"the EFS file system {volumes} with the service volumes will be deleted too")
        question = f"Delete stack {stack.name} and the data of its service volumes?"
    elif volumes:
        # DeletionPolicy Retain (templates/aws/storage.py): service data outlives the stack.
        output.info(
            f"the EFS file system {volumes} with the service volumes is kept (--delete-volumes "
            f"deletes it too); once you no longer need the data: aws efs delete-file-system "
            f"--file-system-id {volumes} --region {connection.region}"
        )
    if not confirm(output, question, yes):
        emit_simple(output, {"stack": stack.name, "result": "cancelled"}, "cancelled")
        return
    feed = deletion.start()
    if no_wait:
        emit_started(
            output,
            stack.name,
            connection.region,
            "delete",
            resume=resume_hint(connection, stack.name),
        )
        return
    with watching(output, stack.name) as (on_event, on_poll):
        outcome = deletion.watch(feed, on_event, on_poll)
    left = deletion.left_behind(outcome)
    if not outcome.succeeded:
        raise failure_error(stack.name, outcome, left)
    if volumes and delete_volumes:
        from ..aws.file_systems import delete_file_system

        delete_file_system(connection, volumes, output.info)
        left = [row for row in left if row["physical_id"] != volumes]
    result = {
        "stack": stack.name,
        "region": connection.region,
        "result": "deleted",
        "status": outcome.status,
        "operation": outcome.to_dict(),
        "left_behind": left,
        "volumes": ("deleted" if delete_volumes else "kept") if volumes else None,
        "templates_removed": deletion.remove_templates(),
    }

    def render(console: Console) -> None:
        console.print(f"stack {stack.name} deleted", markup=False)
        if volumes and delete_volumes:
            console.print(f"EFS file system {volumes} deleted", markup=False)
        if left:
            print_table(console, left_behind_table(left))

    output.emit(result, render)
