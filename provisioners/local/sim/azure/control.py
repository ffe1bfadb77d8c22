"""Starting and finding a cluster's Azure simulation process; the files are the AWS
simulation's (sim/control.SimFiles), with config.json saying "cloud": "azure" and the HTTPS
certificate next to them:
    ready.json      {"arm": URL, "services": URL, "imds": URL} once the servers listen
    arm-cert.pem    the Resource Manager's certificate (REQUESTS_CA_BUNDLE for the SDK)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .....errors import LocalProviderError
from ..control import READY_TIMEOUT, SimFiles, _tail, service_pid

ARM_PORT = 8443
SERVICES_PORT = 8180
IMDS_PORT = 8169


@dataclass(frozen=True)
class AzureUrls:
    arm: str  # https://BRIDGE:8443, for the SDK and az
    services: str  # http://BRIDGE:8180, Resource Manager, Key Vault, blobs for the machines
    imds: str  # http://BRIDGE:8169, the machines' instance metadata service
    ca_bundle: str  # the certificate to trust for `arm`


def cert_path(files: SimFiles) -> Path:
    return files.dir / "arm-cert.pem"


def running_urls(files: SimFiles) -> AzureUrls | None:
    if service_pid(files) is None:
        return None
    try:
        ready = json.loads(files.ready.read_text())
    except (OSError, ValueError):
        return None
    return AzureUrls(
        str(ready["arm"]), str(ready["services"]), str(ready["imds"]), str(cert_path(files))
    )


def start_service(cluster: str, address: str) -> AzureUrls:
    """Start the Azure simulation process for the cluster (once) and wait until it serves."""
    files = SimFiles.of(cluster)
    running = running_urls(files)
    if running is not None:
        return running
    files.dir.mkdir(parents=True, exist_ok=True)
    files.ready.unlink(missing_ok=True)
    config = {
        "cloud": "azure",
        "cluster": cluster,
        "address": address,
        "ports": {"arm": ARM_PORT, "services": SERVICES_PORT, "imds": IMDS_PORT},
        "cert": str(cert_path(files)),
        "key": str(files.dir / "arm-key.pem"),
        "ready_file": str(files.ready),
        "status_file": str(files.instances),
    }
    files.config.write_text(json.dumps(config, indent=2) + "\n")
    module = "swarmstack.provisioners.local.sim.azure.service"
    with files.log.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(files.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives the CLI that started it
            close_fds=True,
        )
    files.pid.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while not files.ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.terminate()
            raise LocalProviderError(
                f"the Azure simulation of cluster {cluster} did not start",
                *_tail(files.log),
                hint=f"its log: {files.log}",
            )
        time.sleep(0.1)
    found = running_urls(files)
    if found is None:  # pragma: no cover - ready was written by the live process
        raise LocalProviderError(f"the Azure simulation of cluster {cluster} stopped at once")
    return found
