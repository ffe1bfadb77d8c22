"""Progress of a converge run: a live per-host table on a terminal, plain lines otherwise.

The orchestrator reports ``phase(host, text)`` as each host moves on; implementations must be
thread-safe (hosts progress in parallel) and must never be handed a secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

from rich.console import Console
from rich.live import Live
from rich.table import Table


class Progress(Protocol):
    def start(self, hosts: Sequence[str]) -> None: ...
    def phase(self, host: str, text: str) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    """Reports nothing (library use, tests, -q)."""

    def start(self, hosts: Sequence[str]) -> None:
        pass

    def phase(self, host: str, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


class LineProgress:
    """One plain line per phase change: ``  0.42s  198.18.0.11  joining as manager``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def start(self, hosts: Sequence[str]) -> None:
        self._started = time.monotonic()

    def phase(self, host: str, text: str) -> None:
        with self._lock:
            elapsed = time.monotonic() - self._started
            self.console.print(f"{elapsed:6.2f}s  {host:<15}  {text}", markup=False)

    def stop(self) -> None:
        pass


class LiveProgress:
    """A table redrawn in place: host, phase, time in that phase, total time."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[str, float]] = {}
        self._started = time.monotonic()
        self._live: Live | None = None

    def start(self, hosts: Sequence[str]) -> None:
        now = time.monotonic()
        self._started = now
        self._rows = dict.fromkeys(hosts, ("waiting", now))
        self._live = Live(
            get_renderable=self._render, console=self.console, refresh_per_second=8, transient=False
        )
        self._live.start()

    def phase(self, host: str, text: str) -> None:
        with self._lock:
            self._rows[host] = (text, time.monotonic())

    def _render(self) -> Table:
        now = time.monotonic()
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("HOST", "PHASE", "IN PHASE"):
            table.add_column(column)
        with self._lock:
            rows = list(self._rows.items())
        for host, (text, since) in rows:
            table.add_row(host, text, f"{now - since:5.1f}s")
        table.caption = f"elapsed {now - self._started:.1f}s"
        return table

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
