"""What the aws stack commands show: change set tables, event lines, node tables, results.

Results are plain dicts (for -o json/yaml); the text renderers print the same data as tables.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ..aws.hints import delete_command, resume_command
from ..errors import StackOperationFailed
from ..output import Output, table

if TYPE_CHECKING:  # the AWS modules import boto3: only the commands that call AWS load them
    from ..aws.changesets import ChangeSet
    from ..aws.discovery import Node
    from ..aws.events import StackEvent, WatchResult
    from ..aws.parameters import ParameterChange
    from ..aws.stacks import Stack

# Piped output has no terminal width; never cut ids and types short to fit 80 columns.
PIPE_WIDTH = 400


def print_table(console: Console, rendered: Table) -> None:
    """A table at the terminal's width, or uncut (and without trailing blanks) in a pipe."""
    if console.is_terminal:
        console.print(rendered)
        return
    wide = Console(file=io.StringIO(), width=PIPE_WIDTH, no_color=True, highlight=False)
    wide.print(rendered)
    text = wide.file.getvalue()  # type: ignore[attr-defined]
    for line in text.splitlines():
        console.print(line.rstrip(), markup=False, highlight=False)


def format_event(event: StackEvent) -> str:
    """`time  logical id  type  status  reason`, one line per event, in local time."""
    stamp = event.timestamp.astimezone().strftime("%H:%M:%S")
    line = f"{stamp}  {event.logical_id:<28} {event.resource_type:<40} {event.status}"
    return f"{line}  {event.reason}" if event.reason else line


def print_event(output: Output, event: StackEvent) -> None:
    if output.verbosity < 0:
        return
    style = "red" if event.failed else ("green" if event.status.endswith("_COMPLETE") else None)
    output.stderr.print(format_event(event), style=style, markup=False)


def failure_error(
    name: str, outcome: WatchResult, left: list[dict[str, str]] | None = None
) -> StackOperationFailed:
    lines = [f"stack {name} ended {outcome.status}"]
    first = outcome.first_failure
    if first is not None:
        lines.append(
            f"first failure: {first.logical_id} ({first.resource_type}) {first.status}: "
            f"{first.reason or 'no reason given'}"
        )
    elif outcome.reason:
        lines.append(f"reason: {outcome.reason}")
    for row in left or []:
        lines.append(f"left behind: {row['logical_id']} ({row['type']}) {row['physical_id']}")
    hint = None
    if outcome.status in {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}:
        hint = f"a stack that failed to create can only be deleted: {delete_command(name)}"
    elif outcome.status == "DELETE_FAILED":
        hint = "remove what is left behind by hand, or run delete-stack again"
    return StackOperationFailed(*lines, hint=hint)


# --- results --------------------------------------------------------------------------------


def change_set_result(
    change_set: ChangeSet, parameter_changes: Sequence[ParameterChange]
) -> dict[str, Any]:
    return {
        "id": change_set.change_set_id,
        "type": change_set.kind,
        "changes": [change.to_dict() for change in change_set.changes],
        "parameter_changes": [change.to_dict() for change in parameter_changes],
    }


def print_change_set(
    console: Console, change_set: ChangeSet, parameter_changes: Sequence[ParameterChange]
) -> None:
    """The preview: resource changes, then (for an update) parameter values old -> new."""
    changes = change_set.changes
    if changes:
        print_table(
            console,
            table(
                ["ACTION", "LOGICAL ID", "TYPE", "REPLACEMENT"],
                [(c.action, c.logical_id, c.resource_type, c.replacement or "-") for c in changes],
                title=f"{change_set.kind} change set: {len(changes)} resource change(s)",
            ),
        )
    else:
        console.print(f"{change_set.kind} change set: no resource changes listed", markup=False)
    if parameter_changes:
        print_table(
            console,
            table(
                ["PARAMETER", "NOW", "NEW"],
                [(p.name, p.old if p.old is not None else "-", p.new) for p in parameter_changes],
            ),
        )


def stack_result(stack: Stack, region: str, nodes: Sequence[Node]) -> dict[str, Any]:
    changed = stack.updated or stack.created
    roles = {"manager": 0, "worker": 0}
    for node in nodes:
        roles[node.role] += 1
    return {
        "stack": stack.name,
        "region": region,
        "status": stack.status,
        "reason": stack.reason,
        "stack_id": stack.stack_id,
        "last_change": changed.isoformat() if changed else None,
        "outputs": dict(sorted(stack.outputs.items())),
        "nodes": [node.to_dict() for node in nodes],
        "node_counts": roles,
    }


def render_stack(stack: Stack, nodes: Sequence[Node]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        console.print(f"stack {stack.name}: {stack.status}", markup=False)
        if nodes:
            managers = sum(1 for n in nodes if n.role == "manager")
            console.print(f"{managers} manager(s), {len(nodes) - managers} worker(s)", markup=False)
            print_table(
                console,
                table(
                    ["ROLE", "INSTANCE", "ZONE", "PRIVATE IP", "PUBLIC IP", "STATE", "SWARM"],
                    [
                        (
                            n.role,
                            n.instance_id,
                            n.zone,
                            n.private_ip or "-",
                            n.public_ip or "-",
                            n.state,
                            "ready" if n.signalled_ready else "-",
                        )
                        for n in nodes
                    ],
                ),
            )
        else:
            console.print("no nodes", markup=False)
        if stack.outputs:
            print_table(
                console, table(["OUTPUT", "VALUE"], sorted(stack.outputs.items()), title="outputs")
            )

    return render


def left_behind_table(rows: list[dict[str, str]]) -> Table:
    return table(
        ["LEFT BEHIND", "TYPE", "PHYSICAL ID", "STATUS", "REASON"],
        [(r["logical_id"], r["type"], r["physical_id"], r["status"], r["reason"]) for r in rows],
    )


def node_summary(nodes: Sequence[Node]) -> str:
    managers = sum(1 for n in nodes if n.role == "manager")
    return f"found {managers} manager(s) and {len(nodes) - managers} worker(s)"


def swarm_result(nodes: Sequence[Node]) -> dict[str, Any]:
    """The swarm the nodes formed, as far as CloudFormation's resource signals tell."""
    ready = [n for n in nodes if n.signalled_ready]
    return {
        "formed_by": "nodes",
        "ready": len(ready),
        "nodes": len(nodes),
        "ready_managers": sum(1 for n in ready if n.role == "manager"),
        "ready_workers": sum(1 for n in ready if n.role == "worker"),
    }


def swarm_summary(nodes: Sequence[Node]) -> str:
    swarm = swarm_result(nodes)
    return (
        f"swarm formed by the nodes: {swarm['ready_managers']} manager(s) and "
        f"{swarm['ready_workers']} worker(s) signalled Ready "
        f"({swarm['ready']} of {swarm['nodes']} instance(s))"
    )


def emit_simple(output: Output, result: dict[str, Any], text: str) -> None:
    output.emit(result, lambda console: console.print(text, markup=False))


def emit_started(
    output: Output,
    name: str,
    region: str,
    operation: str,
    base: dict[str, Any] | None = None,
    *,
    resume: str | None = None,
) -> None:
    """``resume``: the command to watch it (default: without connection flags)."""
    resume = resume or resume_command(name, region)
    output.info(f"--no-wait: {operation} started; watch it with: {resume}")
    emit_simple(
        output,
        {**(base or {"stack": name, "region": region}), "result": f"{operation} started"},
        f"stack {name}: {operation} started",
    )
