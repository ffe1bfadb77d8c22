"""The stack lifecycle as objects a command drives: deploy (launch/update), delete, look up.

A deploy is a change-set workflow: render the template, clear away an empty shell left by an
earlier unexecuted CREATE (REVIEW_IN_PROGRESS), create the change set, let the caller show it
and confirm, execute it, watch the events, then discover the nodes. Nothing here prints; the
caller passes callbacks for events and progress and decides what to show, so the flow is
tested without click (tests/service/test_stack_flow.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

from ..errors import ForeignStack, StackBusy, StackNotFound, WatchInterrupted
from ..spec import ClusterSpec
from . import stack_template
from .changesets import (
    ChangeSet,
    ChangeSetType,
    create_change_set,
    discard_change_set,
    execute_change_set,
)
from .discovery import Node, discover_nodes
from .events import EventFeed, StackEvent, WatchResult, watch_stack
from .hints import resume_command
from .parameters import ParameterChange, parameter_changes, parameter_values
from .readiness import signalled_instances
from .session import AwsConnection, AwsSettings
from .stacks import (
    DEAD_STATES,
    REVIEW_STATE,
    Stack,
    delete_stack,
    describe_stack,
    retained_resources,
    stack_tags,
)
from .template_upload import TemplateSource, remove_uploaded_templates, template_source

Mode = Literal["launch", "update"]


def _ignore(_value: object) -> None:
    """The default callback: nothing to report to."""


@dataclass(frozen=True)
class Proposal:
    """A computed change set, before anything is executed."""

    stack_name: str
    region: str
    change_set: ChangeSet
    changed_parameters: list[ParameterChange]
    source: TemplateSource

    @property
    def kind(self) -> ChangeSetType:
        return self.change_set.kind

    @property
    def empty(self) -> bool:
        return self.change_set.empty


def connect(settings: AwsSettings) -> AwsConnection:
    """A connection whose credentials are checked now, before any stack call."""
    connection = AwsConnection(settings)
    connection.account_id()
    return connection


def refuse_foreign(stack: Stack) -> None:
    if not stack.managed_by_swarmstack:
        raise ForeignStack(
            f"stack {stack.name} exists and was not created by swarmstack; it is left alone",
            hint="choose another --name",
        )


def primed_feed(connection: AwsConnection, stack_id: str) -> EventFeed:
    """A feed that has already seen the stack's past events, so only the new operation's
    events are reported (no clock comparison, so local clock skew does not matter)."""
    feed = EventFeed(connection.cloudformation(), stack_id)
    feed.poll()
    return feed


def watch(
    connection: AwsConnection,
    feed: EventFeed,
    name: str,
    *,
    on_event: Callable[[StackEvent], None] = _ignore,
    on_poll: Callable[[str], None] = _ignore,
) -> WatchResult:
    """Follow the operation until the stack settles, reporting each new event and the status
    at each poll; Ctrl-C stops watching, not the stack."""
    with _stop_watching_on_interrupt(name, connection):
        return watch_stack(
            connection.cloudformation(),
            feed.stack_id,
            feed=feed,
            on_event=on_event,
            on_poll=on_poll,
        )


@contextmanager
def _stop_watching_on_interrupt(name: str, connection: AwsConnection) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise WatchInterrupted(
            f"stopped watching stack {name}; the operation continues in CloudFormation",
            hint=f"resume watching with: {resume_hint(connection, name)}",
        ) from None


def resume_hint(connection: AwsConnection, name: str) -> str:
    """`aws status --wait` for this stack, through the same connection (profile, endpoint)."""
    settings = connection.settings
    return resume_command(
        name, connection.region, profile=settings.profile, endpoint_url=settings.endpoint_url
    )


class StackDeployment:
    """launch-stack / update-stack: propose a change set, then execute and watch it."""

    def __init__(
        self,
        connection: AwsConnection,
        spec: ClusterSpec,
        mode: Mode,
        body: str,
        *,
        bucket: str | None = None,
        info: Callable[[str], None] = _ignore,
    ) -> None:
        self.connection = connection
        self.spec = spec
        self.mode = mode
        self.body = body
        self.bucket = bucket
        self.info = info

    @classmethod
    def start(
        cls,
        spec: ClusterSpec,
        mode: Mode,
        settings: AwsSettings,
        *,
        bucket: str | None = None,
        info: Callable[[str], None] = _ignore,
    ) -> StackDeployment:
        """Render the template first (its problems are the user's, before any AWS call),
        then connect to the spec's region."""
        body = stack_template.render_body(spec)
        parameter_values(body)  # a required parameter without a value fails here, locally
        connection = connect(
            AwsSettings(settings.profile, spec.region or settings.region, settings.endpoint_url)
        )
        return cls(connection, spec, mode, body, bucket=bucket, info=info)

    @property
    def region(self) -> str:
        return self.connection.region

    def propose(self) -> Proposal:
        """Create the change set and wait until CloudFormation has computed it."""
        cfn = self.connection.cloudformation()
        name = self.spec.name
        stack = describe_stack(cfn, name)
        kind = self._change_set_type(stack)
        source = template_source(self.connection, self.body, name, self.bucket)
        self.info(
            f"creating the change set ({kind}) for stack {name} in {self.region} "
            f"(template {len(self.body.encode()):,} bytes, {source.describe()})"
        )
        parameters = parameter_values(self.body)
        current = stack.parameters if stack is not None and kind == "UPDATE" else {}
        change_set = create_change_set(
            cfn,
            stack_name=name,
            kind=kind,
            template=source,
            parameters=parameters,
            tags=stack_tags(name, self.spec.tags),
        )
        changed = parameter_changes(current, parameters) if current else []
        return Proposal(name, self.region, change_set, changed, source)

    def discard(self, proposal: Proposal) -> None:
        """Drop the unexecuted change set (and the empty stack a CREATE one made)."""
        discard_change_set(self.connection.cloudformation(), proposal.change_set)

    def execute(self, proposal: Proposal) -> EventFeed:
        """Start the change set; the returned feed reports only this operation's events."""
        feed = primed_feed(self.connection, proposal.change_set.stack_id)
        execute_change_set(self.connection.cloudformation(), proposal.change_set)
        return feed

    def watch(
        self,
        feed: EventFeed,
        on_event: Callable[[StackEvent], None] = _ignore,
        on_poll: Callable[[str], None] = _ignore,
    ) -> WatchResult:
        return watch(self.connection, feed, self.spec.name, on_event=on_event, on_poll=on_poll)

    def settled(self, proposal: Proposal) -> tuple[Stack, list[Node]]:
        """The stack after a successful operation, and its nodes."""
        final = describe_stack(self.connection.cloudformation(), proposal.change_set.stack_id)
        if final is None:  # pragma: no cover - a stack that just completed is there
            raise StackNotFound(f"stack {self.spec.name} vanished after the operation")
        nodes = discover_nodes(self.connection, final.stack_id)
        ready = signalled_instances(self.connection.cloudformation(), final.stack_id)
        return final, [replace(n, signalled_ready=n.instance_id in ready) for n in nodes]

    def _change_set_type(self, stack: Stack | None) -> ChangeSetType:
        """CREATE for a new stack, UPDATE for one of ours that can take it; else a clear error."""
        name, region = self.spec.name, self.region
        if stack is not None:
            refuse_foreign(stack)
        if stack is not None and stack.status == REVIEW_STATE:
            # An empty shell left by an earlier unexecuted CREATE change set: start afresh.
            self.info(f"stack {name} only holds an unexecuted change set; deleting it first")
            cfn = self.connection.cloudformation()
            delete_stack(cfn, stack.stack_id)
            watch_stack(cfn, stack.stack_id, on_event=_ignore)
            stack = None
        if stack is None:
            if self.mode == "update":
                raise StackNotFound(
                    f"stack {name} does not exist in {region}",
                    hint=f"create it with: swarmstack aws launch-stack --name {name}",
                )
            return "CREATE"
        if stack.status in DEAD_STATES:
            raise StackBusy(
                f"stack {name} is {stack.status}: it failed and can only be deleted",
                hint=f"swarmstack aws delete-stack --name {name} --region {region}",
            )
        if stack.busy:
            raise StackBusy(
                f"stack {name} is {stack.status}; wait for it to settle",
                hint=f"watch it with: {resume_hint(self.connection, name)}",
            )
        return "UPDATE"


def find_stack(connection: AwsConnection, name: str) -> Stack:
    """The named stack, or StackNotFound."""
    stack = describe_stack(connection.cloudformation(), name)
    if stack is None:
        raise StackNotFound(
            f"stack {name} does not exist in {connection.region} (never created, or deleted)"
        )
    return stack


class StackDeletion:
    """delete-stack: check the stack is ours and idle, delete it, report what is left."""

    def __init__(self, connection: AwsConnection, name: str) -> None:
        self.connection = connection
        self.name = name
        stack = describe_stack(connection.cloudformation(), name)
        if stack is None:
            raise StackNotFound(f"stack {name} does not exist in {connection.region}")
        refuse_foreign(stack)
        if stack.busy:
            raise StackBusy(
                f"stack {name} is {stack.status}",
                hint=f"watch it with: {resume_hint(connection, name)}",
            )
        self.stack = stack

    def nodes(self) -> list[Node]:
        return discover_nodes(self.connection, self.stack.stack_id)

    def start(self) -> EventFeed:
        feed = primed_feed(self.connection, self.stack.stack_id)
        delete_stack(self.connection.cloudformation(), self.stack.stack_id)
        return feed

    def watch(
        self,
        feed: EventFeed,
        on_event: Callable[[StackEvent], None] = _ignore,
        on_poll: Callable[[str], None] = _ignore,
    ) -> WatchResult:
        return watch(self.connection, feed, self.name, on_event=on_event, on_poll=on_poll)

    def left_behind(self, outcome: WatchResult) -> list[dict[str, str]]:
        """Resources that failed to delete or that a retain policy kept."""
        left = retained_resources(self.connection.cloudformation(), self.stack.stack_id)
        seen = {row["logical_id"] for row in left}
        return left + [
            {
                "logical_id": e.logical_id,
                "physical_id": e.physical_id,
                "type": e.resource_type,
                "status": e.status,
                "reason": e.reason,
            }
            for e in outcome.events
            if e.status == "DELETE_SKIPPED" and e.logical_id not in seen
        ]

    def remove_templates(self) -> list[str]:
        """The templates swarmstack uploaded to S3 for this stack."""
        return remove_uploaded_templates(self.connection, self.name)
