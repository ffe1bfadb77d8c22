"""The controller that makes the local machines follow the simulated scale sets.

Every second, under the world's lock:
- an instance of a scale set that has no machine gets one, booted with the scale set's custom
  data (base64-decoded, as Azure hands it to cloud-init) and the endpoint variables; before
  the boot the instance's private IP becomes the machine's address;
- instances whose Terminate event was approved or timed out leave their scale set;
- a machine whose instance is gone is powered off and deleted.
The round, the rows and the machines are sim/instance_controller.py's (shared with the AWS
simulation).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .....errors import UsageError
from ....nodeagent.azure import AZURE_STORAGE_TAG, AZURE_VAULT_TAG
from ...cluster import LocalCluster
from ...machine import MachineFiles
from ..fleet import MachineFleet
from ..instance_controller import InstanceController
from .servers import BLOB_PREFIX, VAULT_PREFIX
from .world import World

MANAGERS_SUFFIX = "-managers"
SERIAL_LOG_BYTES = 1 << 20


@dataclass
class Tracked:
    """One scale-set instance and its machine (a row of `local status`)."""

    instance_id: str  # the VM's name: SCALESET_N
    scale_set: str
    role: str
    vm_state: str  # Succeeded, Deleting (held by its Terminate event), gone
    machine: str  # booting, running, failed, removing
    hostname: str  # the machine's name: the VM's computer name, as Azure makes it
    address: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class AzureEndpoints:
    """What the node agent reads to find the simulated services (azure.py's variables)."""

    imds: str
    services: str

    def variables(self) -> dict[str, str]:
        return {
            "NODE_AGENT_AZURE_IMDS_ENDPOINT": self.imds,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.imds,
            "NODE_AGENT_AZURE_MANAGEMENT_ENDPOINT": self.services,
        }


@dataclass(frozen=True)
class InstanceEndpoints:
    """One instance's variables: the cluster's, plus its vault's and storage's base URLs."""

    cluster: AzureEndpoints
    vault: str
    storage: str

    def variables(self) -> dict[str, str]:
        found = self.cluster.variables()
        base = self.cluster.services
        if self.vault:
            found["NODE_AGENT_AZURE_VAULT_ENDPOINT"] = f"{base}{VAULT_PREFIX}{self.vault}"
        if self.storage:
            found["NODE_AGENT_AZURE_BLOB_ENDPOINT"] = f"{base}{BLOB_PREFIX}{self.storage}"
        return found


class Controller(InstanceController[Tracked]):
    def __init__(
        self,
        world: World,
        cluster: LocalCluster,
        endpoints: AzureEndpoints,
        status_file: Path,
        log: Callable[[str], None],
    ) -> None:
        self.world = world
        self.endpoints = endpoints
        super().__init__(MachineFleet(cluster, endpoints, status_file, log))
        world.rm.read_serial_log = self.serial_log

    def leftover(self, name: str, role: str, address: str) -> Tracked:
        return Tracked(name, "-", role, "gone", "running", name, address)

    def step(self) -> None:
        for name in self.world.settle_leaving():
            self.log(f"{name}: its Terminate event was approved or timed out; deleted")
        with self.world.lock, self._lock:
            present: dict[str, tuple[str, str, str]] = {}  # name -> (scale set id, number, state)
            for body in self.world.scale_sets():
                scale_set = body["id"].lower()
                for instance in self.world.rm.instances.get(scale_set, []):
                    name = f"{body['name']}_{instance['instanceId']}"
                    state = "Deleting" if instance.get("leaving") else "Succeeded"
                    present[name] = (scale_set, instance["instanceId"], state)
            for name, (scale_set, number, state) in present.items():
                known = self.tracked.get(name)
                if known is None:
                    role = "manager" if scale_set.endswith(MANAGERS_SUFFIX) else "worker"
                    known = self.tracked[name] = Tracked(
                        name,
                        scale_set.rsplit("/", 1)[1],
                        role,
                        state,
                        "booting",
                        self.world.computer_name(scale_set, number),
                    )
                    self._boot(known, scale_set, number)
                known.vm_state = state
            for name, known in self.tracked.items():
                if name not in present:
                    known.vm_state = "gone"
                    if known.machine != "removing":
                        self._remove(known)
            rows = self.status_rows()
        self.fleet.write_status(rows)

    def serial_log(self, scale_set: str, instance_id: str) -> str | None:
        """Boot diagnostics: the instance's machine console (the agent writes its records on
        /dev/console, which systemd-nspawn copies to the machine's console log), as Azure keeps
        a VM's serial port output. The last 1 MiB, like a console that has scrolled."""
        wanted = f"{scale_set}_{instance_id}".lower()
        with self._lock:
            found = [t.hostname for name, t in self.tracked.items() if name.lower() == wanted]
        if not found:
            return None
        try:
            cluster = self.fleet.cluster
            path = MachineFiles(cluster.dir, cluster.machine(found[0])).console
            with path.open("rb") as console:
                console.seek(max(0, path.stat().st_size - SERIAL_LOG_BYTES))
                return console.read().decode("utf-8", "replace")
        except (OSError, UsageError):
            return None  # no machine (yet): Azure has no log either

    def _boot(self, known: Tracked, scale_set: str, number: str) -> None:
        body = self.world.rm.resources[scale_set]
        tags = body.get("tags") or {}
        custom_data = self.world.rm.custom_data.get(scale_set, "")
        endpoints = InstanceEndpoints(
            self.endpoints,
            str(tags.get(AZURE_VAULT_TAG, "")),
            str(tags.get(AZURE_STORAGE_TAG, "")),
        )
        self.boot_machine(
            known,
            known.hostname,
            lambda: base64.b64decode(custom_data),
            lambda address: self.world.set_address(scale_set, number, address),
            label=known.scale_set,
            endpoints=endpoints,
        )

    def _remove(self, known: Tracked) -> None:
        def forget_address() -> None:
            if known.address:
                self.world.forget_address(known.address)

        self.remove_machine(known, known.hostname, forget_address)
