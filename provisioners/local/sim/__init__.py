"""The cloud simulations: the real CloudFormation stack (`local up --cloud aws`) or ARM
template (`local up --cloud azure`, sim/azure/local.py) on this machine. This module is the
AWS side; what both clouds share is below.

    result = sim.up(spec, name="sim", progress=print)   # moto + IMDS + controller, the stack
    sim.wait_for_instances(name, timeout=120)           # every instance has a booted machine
    sim.status(name)                                    # endpoints, instances, machines
    sim.down(name)                                      # the process, machines, network, state

A cluster of local machines (systemd-nspawn, the "cloud" image with cloud-init) follows moto's
Auto Scaling groups: every instance they launch gets a machine that runs its launch template's
real user data through cloud-init's NoCloud source. The machines see two differences from EC2,
as environment variables: AWS_ENDPOINT_URL (moto's server) and AWS_EC2_METADATA_SERVICE_ENDPOINT
(the IMDSv2 emulation), both on the cluster's bridge address. Lifecycle hooks post AWS's
notifications to their SQS queues (corrections.py). Needs root and the `sim` extra (moto).

Shared by both clouds: control (the long-running process: start, find, stop, wait for its
machines; no moto), serving (that process's frame), instance_controller (the controller's
rounds and rows), fleet (booting and removing machines), seed (NoCloud), local_cluster (the
--name check, the machines' cluster), environment (fake credentials for a while).
The AWS side: service (the process), controller (Auto Scaling instances -> machines), imds,
lifecycle (message formats), corrections (moto), launch (the stack through swarmstack.aws).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ....errors import UsageError
from ....spec import ClusterSpec
from ..cluster import LocalCluster, check_name
from ..run import require_root
from .control import (
    DEFAULT_REGION,
    SimFiles,
    instances,
    is_simulation,
    machine_spec,
    read_config,
    running_endpoints,
    start_service,
    stop_service,
    wait_for_machines,
)
from .launch import SIM_CREDENTIALS, create_stack
from .local_cluster import check_name_for, cloud_of, open_machines
from .seed import ENDPOINT_URL, METADATA_ENDPOINT, Endpoints

CLOUDS = ("aws", "azure")
EXTRA_HINT = "pip install 'swarmstack[sim]'"
Progress = Callable[[str], None]

__all__ = [
    "CLOUDS",
    "ENDPOINT_URL",
    "METADATA_ENDPOINT",
    "SIM_CREDENTIALS",
    "Endpoints",
    "SimResult",
    "check_cloud",
    "cloud_of",
    "down",
    "is_simulation",
    "require_sim_extra",
    "status",
    "stop",
    "up",
    "wait_for_instances",
]


def _quiet(_message: str) -> None:
    pass


def check_cloud(cloud: str) -> None:
    if cloud not in CLOUDS:
        raise UsageError(f"--cloud={cloud}: must be one of {', '.join(CLOUDS)}")


def require_sim_extra() -> None:
    """One line that says what to install when moto is missing."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise UsageError(
            f"the AWS simulation needs moto's server, which is not installed: {EXTRA_HINT}"
        )


@dataclass(frozen=True)
class SimResult:
    cluster: str
    stack: str
    region: str
    stack_status: str
    endpoints: Endpoints

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "stack": self.stack,
            "region": self.region,
            "stack_status": self.stack_status,
            "endpoint_url": self.endpoints.aws,
            "metadata_endpoint": self.endpoints.metadata,
        }


def up(
    spec: ClusterSpec,
    *,
    name: str = "local",
    progress: Progress = _quiet,
    parameters: Mapping[str, str] | None = None,
) -> SimResult:
    """Start the cluster's simulation (once) and create the spec's stack on it (once).

    ``parameters`` override template parameter values the way a console user sets them (the
    template itself stays the spec's).

    Returns when the stack is created; its instances' machines boot in the background (see
    wait_for_instances). Bad input and a missing extra fail before anything is made.
    """
    check_name(name)
    spec = machine_spec(spec, progress)
    require_sim_extra()
    require_root("swarmstack local up --cloud aws")
    check_name_for(name, "aws")
    region = spec.region or DEFAULT_REGION
    cluster = open_machines(name, progress)
    files = SimFiles.of(name)
    if files.config.exists():
        region = str(read_config(files).get("region", region))
    progress(f"starting the simulated AWS ({region}) on {cluster.gateway}")
    endpoints = start_service(name, cluster.gateway, region)
    stack_status = create_stack(spec, endpoints.aws, region, progress, parameters)
    return SimResult(name, spec.name, region, stack_status, endpoints)


def wait_for_instances(name: str, *, timeout: float = 300.0, progress: Progress = _quiet) -> None:
    """Until every running instance of the groups has a booted machine (SSH answers)."""
    wait_for_machines(
        name, "AWS", lambda row: row["ec2_state"] == "running", timeout=timeout, progress=progress
    )


def status(name: str) -> dict[str, Any]:
    """The simulation's endpoints and running state, and every instance with its machine."""
    files = SimFiles.of(name)
    config = read_config(files)
    if config.get("cloud") == "azure":
        from .azure.local import status as azure_status

        return azure_status(name)
    endpoints = running_endpoints(files)
    return {
        "cloud": "aws",
        "region": config.get("region"),
        "running": endpoints is not None,
        "endpoint_url": endpoints.aws if endpoints else None,
        "metadata_endpoint": endpoints.metadata if endpoints else None,
        "log": str(files.log),
        "instances": instances(files),
    }


def stop(name: str) -> bool:
    """Stop the simulation process (machines stay); True when one was running."""
    return stop_service(name)


def down(name: str, *, progress: Progress = _quiet) -> None:
    """Stop the simulation process, then remove the machines, network and state."""
    require_root("swarmstack local down")
    cloud = "Azure" if is_simulation(name) and cloud_of(name) == "azure" else "AWS"
    if stop(name):
        progress(f"stopped the simulated {cloud} of cluster {name}")
    if LocalCluster.exists(name):
        LocalCluster.open(name, progress=progress).down()
