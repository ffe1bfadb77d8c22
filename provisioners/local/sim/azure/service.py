"""The Azure simulation's long-running process: the simulated Azure's servers and the machine
controller, on the cluster's bridge address.

Started detached by azure.control.start_service as
    python -m swarmstack.provisioners.local.sim.azure.service CONFIG.json
and lives as long as the cluster (the simulated subscription lives in this process's memory).
SIGTERM stops it; the machines are left to `local down`, which stops this process first.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ...cluster import LocalCluster
from ..serving import log, main, run_controller
from .controller import AzureEndpoints, Controller
from .servers import Servers
from .tls import ensure_certificate
from .world import World


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
    return run_controller(
        controller,
        config,
        ready={"arm": servers.arm_url, "services": servers.services_url, "imds": servers.imds_url},
        serving=f"serving Azure: Resource Manager at {servers.arm_url}, IMDS at {servers.imds_url}",
        stop_servers=servers.stop,
    )


if __name__ == "__main__":
    main(serve)
