"""Carry out a plan: resource group first, then resources in dependency order."""

from __future__ import annotations

from collections.abc import Callable

from .clients import AzureClients
from .engine import EventSink, Step, StepContext, run_steps, wait
from .failures import error_for
from .plan import TERMINAL_STATES, Change, Plan, compare, read

GROUP_STEP = "resourceGroup"
StepRun = Callable[[StepContext], None]


def apply_plan(clients: AzureClients, plan: Plan, on_event: EventSink, poll_seconds: float) -> None:
    """Apply every change; raises one error naming each failed resource, code and message."""
    steps: list[Step] = []
    if plan.create_group:
        steps.append(Step(GROUP_STEP, f"{GROUP_STEP} ({plan.group})", _create_group(clients, plan)))
    for change in plan.changes:
        if change.action == "no change":
            continue
        after = frozenset(change.resource.depends_on) | {GROUP_STEP}
        steps.append(
            Step(
                change.resource.key,
                change.label,
                _apply_change(clients, plan.group, change, poll_seconds),
                after,
            )
        )
    failures = run_steps(steps, on_event, verb="deploy")
    if failures:
        raise error_for(failures)


def _create_group(clients: AzureClients, plan: Plan) -> StepRun:
    def run(context: StepContext) -> None:
        context.emit("creating")
        clients.resources.resource_groups.create_or_update(
            plan.group, {"location": plan.location, "tags": plan.group_tags}
        )
        context.emit("created")

    return run


def _apply_change(
    clients: AzureClients, group: str, change: Change, poll_seconds: float
) -> StepRun:
    resource = change.resource
    operations = clients.operations(resource.type)

    def run(context: StepContext) -> None:
        current = change
        if current.action == "resume":
            # An earlier run was interrupted: wait for Azure to finish, then reconcile.
            context.emit("resuming", f"waiting for {current.state}")
            while True:
                actual = read(clients, group, resource)
                state = (actual or {}).get("properties", {}).get("provisioningState")
                if actual is None or state in TERMINAL_STATES or state is None:
                    break
                context.sleep(poll_seconds)
            current = compare(resource, actual)
            if current.action == "no change":
                context.emit("resumed", "no change")
                return
        verb = "creating" if current.action == "create" else "updating"
        poller = operations.begin_create_or_update(group, resource.name, resource.body)
        context.emit(verb, ", ".join(current.differences[:3]))
        wait(context, poller)
        context.emit("created" if current.action == "create" else "updated")

    return run
