"""Processes that outlive the CLI which starts them - a machine's supervisor, a simulation's
service: `python -m MODULE CONFIG` in a session of its own, its output in a log file, its pid
in a pid file. A later CLI finds it again through that pid file, trusting the pid only while
the process there still names the config file (a stale pid may have been reused).

    process = detached.start("swarmstack.provisioners.local.supervisor", config, log, pid)
    detached.wait_for(ready, alive=lambda: process.poll() is None, deadline=..., ...)
    detached.running_pid(pid, config)   # the pid, or None
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def start(module: str, config: Path, log: Path, pid_file: Path) -> subprocess.Popen[bytes]:
    """Start `python -m MODULE CONFIG` detached, appending its output to ``log``."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # outlives the CLI that started it
            close_fds=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process


def running_pid(pid_file: Path, config: Path) -> int | None:
    """The running process of that pid file and config, or None (a stale pid is ignored)."""
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if str(config).encode() in cmdline else None


def wait_for(
    ready: Callable[[], bool],
    *,
    alive: Callable[[], bool],
    deadline: float,
    interval: float,
    died: Callable[[], Exception],
    late: Callable[[], Exception],
) -> None:
    """Poll ``ready`` until it holds; raise died() once the process is no longer ``alive``,
    late() after the (monotonic) ``deadline``."""
    while not ready():
        if not alive():
            raise died()
        if time.monotonic() > deadline:
            raise late()
        time.sleep(interval)
