"""What the aws stack commands show while CloudFormation works: event lines and a spinner."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from ..output import Output
from .aws_stack_views import print_event

if TYPE_CHECKING:
    from ..aws.events import StackEvent


@contextmanager
def watching(
    output: Output, name: str
) -> Iterator[tuple[Callable[[StackEvent], None], Callable[[str], None]]]:
    """The (on_event, on_poll) callbacks for a stack watch: events as lines on stderr and,
    on a terminal, a spinner with the stack's status and the time elapsed."""
    started = time.monotonic()
    progress = (
        output.stderr.status(f"{name}: waiting", spinner="dots")
        if output.interactive and output.verbosity >= 0
        else nullcontext()
    )

    def on_event(event: StackEvent) -> None:
        print_event(output, event)

    def on_poll(status: str) -> None:
        if hasattr(progress, "update"):
            elapsed = int(time.monotonic() - started)
            progress.update(f"{name}: {status} ({elapsed // 60}m{elapsed % 60:02d}s)")

    with progress:
        yield on_event, on_poll
