"""Where output goes: results on stdout (text, json or yaml), logs and progress on stderr.

Commands build a plain dict/list result and a text renderer; `emit` picks the format the user
asked for with -o. Colour only on a terminal and never when NO_COLOR or --no-color is set.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from .errors import UsageError


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    YAML = "yaml"


@dataclass
class Output:
    """The user's output choices, shared by every command through the click context."""

    format: OutputFormat = OutputFormat.TEXT
    verbosity: int = 0  # -v adds, -q subtracts
    debug: bool = False
    color: bool = True
    stdout: Console = field(init=False)
    stderr: Console = field(init=False)

    def __post_init__(self) -> None:
        no_color = not self.color or bool(os.environ.get("NO_COLOR"))
        self.stdout = Console(file=sys.stdout, no_color=no_color, highlight=False, soft_wrap=True)
        self.stderr = Console(file=sys.stderr, no_color=no_color, highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        """True when progress may redraw in place (stderr is a terminal)."""
        return self.stderr.is_terminal

    def emit(self, result: Any, render_text: Callable[[Console], None]) -> None:
        """Print a command's result on stdout in the chosen format.

        Every result has a text rendering: text mode never falls back to a data dump.
        """
        if self.format is OutputFormat.JSON:
            sys.stdout.write(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
        elif self.format is OutputFormat.YAML:
            sys.stdout.write(yaml.safe_dump(result, sort_keys=True, default_flow_style=False))
        else:
            render_text(self.stdout)

    def emit_line(self, result: Any, text: str) -> None:
        """A result whose text rendering is one line."""
        self.emit(result, lambda console: console.print(text, markup=False))

    def info(self, message: str) -> None:
        """A progress line on stderr, hidden by -q."""
        if self.verbosity >= 0:
            self.stderr.print(message, markup=False)

    def warn(self, message: str) -> None:
        self.stderr.print(f"warning: {message}", style="yellow", markup=False)

    def error(self, message: str) -> None:
        self.stderr.print(f"error: {message}", style="bold red", markup=False)

    def configure_logging(self) -> None:
        """Library logs on stderr: warnings by default, -v info, -vv/--debug debug."""
        level = logging.WARNING
        if self.verbosity >= 1:
            level = logging.INFO
        if self.verbosity >= 2 or self.debug:
            level = logging.DEBUG
        if self.verbosity < 0:
            level = logging.ERROR
        handler = RichHandler(console=self.stderr, show_path=False, rich_tracebacks=False)
        logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s")
        logging.getLogger("swarmstack").setLevel(level)
        # paramiko logs an ERROR with a traceback on every failed banner read, i.e. on every
        # retry while a host boots; swarmstack reports the outcome itself. Its logs: --debug.
        logging.getLogger("paramiko").setLevel(logging.DEBUG if self.debug else logging.CRITICAL)


def write_output_file(path: Path, text: str, flag: str = "--out") -> None:
    """Write a command's result to the file the user named; a bad path is their input."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{flag}={path}: cannot write ({exc.strerror or exc})") from None


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    """A plain table for text output."""
    result = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*("" if cell is None else str(cell) for cell in row))
    return result
