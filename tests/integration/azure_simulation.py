"""The `azure_simulation` fixture's object: clusters on the Azure simulation, deployed as
`az deployment group create` would deploy `swarmstack azure template`'s output (no swarmstack
command forms the swarm - the node agents do), scale-set operations through the Azure SDK,
and commands on the instances' machines (simulation_machines.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from swarmstack.azure.clients import AzureClients, as_dict
from swarmstack.provisioners.local import sim
from swarmstack.provisioners.local.sim.azure import local as azure_sim
from swarmstack.provisioners.local.sim.azure.control import AzureUrls
from swarmstack.spec import ClusterSpec

from .simulation_machines import SimulationMachines

BOOT_TIMEOUT = 300.0


@dataclass(frozen=True)
class SimDeployment:
    cluster: str
    group: str
    managers: int
    workers: int
    outputs: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        return list(sim.status(self.cluster)["instances"])

    def instances(self, role: str | None = None) -> list[str]:
        """Machine (host) names of the instances in service, of one role, in order."""
        return sorted(
            r["hostname"]
            for r in self.rows()
            if r["vm_state"] == "Succeeded"
            and r["machine"] == "running"
            and (role is None or r["role"] == role)
        )

    def vm_name(self, hostname: str) -> str:
        return str(next(r["instance_id"] for r in self.rows() if r["hostname"] == hostname))

    def scale_set(self, role: str) -> str:
        return f"{self.group}-{role}s"


class AzureSimulation(SimulationMachines[SimDeployment]):
    """One simulated deployment at a time; one of other counts replaces the current one."""

    def __init__(self, name_prefix: str) -> None:
        super().__init__(name_prefix)
        self.urls: AzureUrls | None = None

    def deploy(self, managers: int, workers: int) -> SimDeployment:
        current = self.current
        if (
            current is not None
            and (current.managers, current.workers) == (managers, workers)
            and len(current.instances("manager")) == managers
            and len(current.instances("worker")) == workers
        ):
            return current  # still as deployed: reuse its machines
        cluster = self.next_cluster()
        spec = ClusterSpec.model_validate(
            {"name": cluster, "manager_size": managers, "cluster_size": workers}
        )
        started = time.monotonic()
        result = azure_sim.up(spec, name=cluster, progress=print)
        self.urls = result.urls
        deployment = self.current = SimDeployment(
            cluster, spec.name, managers, workers, result.outputs
        )
        azure_sim.wait_for_instances(cluster, timeout=BOOT_TIMEOUT, progress=print)
        took = time.monotonic() - started
        print(f"deployment {spec.name}: {managers}+{workers} machines booted in {took:.0f} s")
        return deployment

    def _compute(self, action: Any) -> Any:
        assert self.urls is not None
        with azure_sim.sim_clients(self.urls) as clients:
            return action(clients)

    def set_capacity(self, role: str, capacity: int) -> None:
        """PUT the scale set with a new sku.capacity, as `az vmss scale` does."""
        deployment = self.current
        assert deployment is not None
        name = deployment.scale_set(role)

        def scale(clients: AzureClients) -> None:
            sets = clients.compute.virtual_machine_scale_sets
            body = as_dict(sets.get(deployment.group, name))  # the REST shape
            body["sku"]["capacity"] = capacity
            sets.begin_create_or_update(deployment.group, name, body).result()

        self._compute(scale)

    def delete_instance(self, hostname: str) -> None:
        """`az vmss delete-instances`: the instance gets its Terminate event first."""
        deployment = self.current
        assert deployment is not None
        scale_set, number = deployment.vm_name(hostname).rsplit("_", 1)

        def delete(clients: AzureClients) -> None:
            sets = clients.compute.virtual_machine_scale_sets
            sets.begin_delete_instances(
                deployment.group, scale_set, {"instanceIds": [number]}
            ).result()

        self._compute(delete)

    def load_balancer(self) -> dict[str, Any]:
        deployment = self.current
        assert deployment is not None
        return dict(
            self._compute(
                lambda c: as_dict(
                    c.network.load_balancers.get(deployment.group, f"{deployment.group}-lb")
                )
            )
        )
