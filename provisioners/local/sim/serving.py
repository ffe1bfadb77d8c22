"""The simulation process's frame, the same for every simulated cloud (service.py for AWS,
azure/service.py): log lines on stderr (service.log), ready.json once the servers listen, the
controller's rounds until SIGTERM, then the servers stopped and ready.json gone.

    def serve(config):            # a cloud's: start its servers, make its controller
        ...
        return run_controller(controller, config, ready={...}, serving="...", stop_servers=...)

    if __name__ == "__main__":
        main(serve)
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Protocol


class Rounds(Protocol):
    def run(self, stop: threading.Event, interval: float = 1.0) -> None: ...


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} sim: {message}", file=sys.stderr, flush=True)


def run_controller(
    controller: Rounds,
    config: dict[str, Any],
    *,
    ready: dict[str, str],
    serving: str,
    stop_servers: Callable[[], None],
) -> int:
    """Say where the servers are (``ready`` to ready.json, ``serving`` to the log), run the
    controller until SIGTERM or SIGINT, then stop the servers."""
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ready_file = Path(config["ready_file"])
    ready_file.write_text(json.dumps(ready) + "\n")
    log(serving)
    try:
        controller.run(stop)
    finally:
        stop_servers()
        ready_file.unlink(missing_ok=True)
        log("stopped")
    return 0


def main(serve: Callable[[dict[str, Any]], int]) -> None:
    """`python -m ...service CONFIG.json`: serve that config, then exit."""
    code = serve(json.loads(Path(sys.argv[1]).read_text()))
    sys.stderr.flush()
    os._exit(code)  # without joining boot threads still waiting for a machine
