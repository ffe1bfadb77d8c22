"""What the integration tests run: conditions polled until they hold, helpers started and
closed (also when starting fails half-way), child processes stopped."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar


def wait_until(
    condition: Callable[[], object], timeout: float, what: str, every: float = 2
) -> None:
    """Polls ``condition`` every ``every`` seconds; an AssertionError naming ``what`` if it
    does not hold within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(process: subprocess.Popen[bytes] | None, grace: float = 15) -> None:
    """Terminate a child process; kill it if it has not exited after ``grace`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Startable(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


S = TypeVar("S", bound=Startable)


@contextmanager
def started(helper: S) -> Iterator[S]:
    """``helper.start()``; yields it and closes it at the end, or at once if start() fails."""
    try:
        helper.start()
        yield helper
    finally:
        helper.close()
