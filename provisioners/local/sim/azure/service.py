"""The Azure simulation's long-running process: the simulated Azure's servers and the machine
controller, on the cluster's bridge address.

Started detached by azure.control.start_service as
    python -m swarmstack.provisioners.local.sim.azure.service CONFIG.json
and lives as long as the cluster (the simulated subscription lives in this process's memory).
SIGTERM stops it; the machines are left to `local down`, which stops this process first.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from ...cluster import LocalCluster
from .controller import AzureEndpoints, Controller
from .servers import Servers
from .tls import ensure_certificate
from .world import World


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} sim: {message}", file=sys.stderr, flush=True)


def serve(config: dict[str, Any]) -> int:
    logging.getLogger("swarmstack").setLevel(logging.WARNING)
    address = str(config["address"])
    cert, key = Path(config["cert"]), Path(config["key"])
    ensure_certificate(cert, key, address)
    world = World()
    servers = Servers(world, address, dict(config["ports"]), cert, key)
    servers.start()
    endpoints = AzureEndpoints(imds=servers.imds_url, services=servers.services_url)
    cluster = LocalCluster.open(config["cluster"], progress=log)
    controller = Controller(world, cluster, endpoints, Path(config["status_file"]), log)
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ready = Path(config["ready_file"])
    answer = {"arm": servers.arm_url, "services": servers.services_url, "imds": servers.imds_url}
    ready.write_text(json.dumps(answer) + "\n")
    log(f"serving Azure: Resource Manager at {servers.arm_url}, IMDS at {servers.imds_url}")
    try:
        controller.run(stop)
    finally:
        servers.stop()
        ready.unlink(missing_ok=True)
        log("stopped")
    return 0


def main() -> None:
    code = serve(json.loads(Path(sys.argv[1]).read_text()))
    sys.stderr.flush()
    os._exit(code)  # without joining boot threads still waiting for a machine


if __name__ == "__main__":
    main()
