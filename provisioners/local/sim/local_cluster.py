"""The cluster of local machines a simulation boots its instances in, the same for every
simulated cloud: its --name checked (not plain machines', not the other cloud's simulation),
then made once from the image with cloud-init."""

from __future__ import annotations

from collections.abc import Callable

from ....errors import UsageError
from .. import images
from ..cluster import LocalCluster
from .control import SimFiles, is_simulation, read_config

CLOUD_NAMES = {"aws": "AWS", "azure": "Azure"}


def cloud_of(name: str) -> str:
    """aws or azure: the cloud a simulation cluster simulates."""
    return str(read_config(SimFiles.of(name)).get("cloud", "aws"))


def check_name_for(name: str, cloud: str) -> None:
    """--name: a new cluster, or the simulation of ``cloud`` made by an earlier `local up`."""
    if LocalCluster.exists(name) and not is_simulation(name):
        raise UsageError(
            f"--name={name}: a local cluster of plain machines has that name; "
            "choose another --name or `swarmstack local down` it first"
        )
    if is_simulation(name) and (other := cloud_of(name)) != cloud:
        raise UsageError(
            f"--name={name}: that cluster simulates {CLOUD_NAMES.get(other, other)}; "
            f"`swarmstack local down --name {name}` it first or choose another --name"
        )


def open_machines(name: str, progress: Callable[[str], None]) -> LocalCluster:
    """The simulation's cluster: made on first use, with the cloud image (cloud-init)."""
    image = images.ensure_cloud_image(progress)
    return LocalCluster.open_or_create(name, image, progress=progress)
