"""Starting and finding a cluster's Azure simulation process; the files are the AWS
simulation's (sim/control.SimFiles), with config.json saying "cloud": "azure" and the HTTPS
certificate next to them:
    ready.json      {"arm": URL, "services": URL, "imds": URL} once the servers listen
    arm-cert.pem    the Resource Manager's certificate (REQUESTS_CA_BUNDLE for the SDK)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..control import SimFiles, launch_service, ready_answer

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
    answer = ready_answer(files)
    return None if answer is None else _urls(files, answer)


def _urls(files: SimFiles, answer: dict[str, Any]) -> AzureUrls:
    return AzureUrls(
        str(answer["arm"]), str(answer["services"]), str(answer["imds"]), str(cert_path(files))
    )


def start_service(cluster: str, address: str) -> AzureUrls:
    """Start the Azure simulation process for the cluster (once) and wait until it serves."""
    files = SimFiles.of(cluster)
    running = running_urls(files)
    if running is not None:
        return running
    config = {
        "cloud": "azure",
        "cluster": cluster,
        "address": address,
        "ports": {"arm": ARM_PORT, "services": SERVICES_PORT, "imds": IMDS_PORT},
        "cert": str(cert_path(files)),
        "key": str(files.dir / "arm-key.pem"),
    }
    module = "swarmstack.provisioners.local.sim.azure.service"
    return _urls(files, launch_service(cluster, "Azure", module, config))
