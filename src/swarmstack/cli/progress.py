"""How the SSH bootstrap's progress is shown: a live table, plain lines, or nothing."""

from __future__ import annotations

from ..output import Output
from ..provisioners.progress import LineProgress, LiveProgress, NullProgress, Progress


def progress_for(output: Output) -> Progress:
    """A live table on a terminal, plain lines otherwise, nothing with -q."""
    if output.verbosity < 0:
        return NullProgress()
    if output.interactive and output.verbosity == 0:
        return LiveProgress(output.stderr)
    return LineProgress(output.stderr)
