"""`swarmstack local up --cloud aws`: the real AWS stack on this machine (the simulation).

Kept apart from cli/local.py, which only hands over to these functions: `up_simulation`,
`emit_simulation_status` and `stop_simulation`.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

from rich.console import Console

from ..errors import LocalProviderError
from ..output import Output, table
from ..provisioners.local import LocalCluster, sim
from ..spec import ClusterSpec

# CloudWatch logs are off unless the spec says otherwise: dockerd's awslogs driver cannot be
# pointed at the simulated AWS.
SIMULATION_DEFAULTS: dict[str, Any] = {"enable_cloudwatch_logs": False}


def up_simulation(output: Output, spec: ClusterSpec, cloud: str = "aws") -> None:
    """Run the stack of ``spec`` on the simulated cloud (checked by the caller)."""
    if cloud == "azure":
        up_azure_simulation(output, spec)
        return
    sim.require_sim_extra()
    name = spec.name
    if spec.enable_cloudwatch_logs:
        output.warn(
            "enable_cloudwatch_logs: the nodes' containers log through awslogs, which cannot "
            "reach the simulated AWS; set it to false for the simulation"
        )
    result = sim.up(spec, name=name, progress=output.info)
    sim.wait_for_instances(name, progress=output.info)
    data = {**result.to_dict(), **sim.status(name)}

    def render(console: Console) -> None:
        _print_instances(console, data["instances"])
        _print_how_to_drive(console, result.endpoints.aws, result.region, name)

    output.emit(data, render)


def up_azure_simulation(output: Output, spec: ClusterSpec) -> None:
    """The spec's ARM template deployed on the simulated Azure; machines for its instances."""
    from ..provisioners.local.sim.azure import local as azure_sim

    name = spec.name
    result = azure_sim.up(spec, name=name, progress=output.info)
    azure_sim.wait_for_instances(name, progress=output.info)
    data = {**result.to_dict(), **azure_sim.status(name)}

    def render(console: Console) -> None:
        _print_instances(console, data["instances"], AZURE_COLUMNS)
        _print_how_to_drive_azure(console, result.urls, result.resource_group, name)

    output.emit(data, render)


def emit_simulation_status(output: Output, cluster: LocalCluster) -> None:
    """`local status` of a simulation: endpoints, instances and machines, swarm nodes."""
    data = sim.status(cluster.name)
    data["cluster"] = cluster.name
    data["machines"] = cluster.status()
    data["swarm_nodes"] = _swarm_nodes(cluster)
    azure = data["cloud"] == "azure"

    def render(console: Console) -> None:
        state = "running" if data["running"] else "NOT running (local down, then up again)"
        where = "Azure" if azure else f"AWS ({data['region']})"
        console.print(f"simulated {where}: {state}", markup=False)
        endpoint = data["arm_endpoint"] if azure else data["endpoint_url"]
        if endpoint:
            console.print(f"  endpoint: {endpoint}", markup=False)
        _print_instances(console, data["instances"], AZURE_COLUMNS if azure else AWS_COLUMNS)
        rows = data["machines"]
        if rows:
            columns = list(rows[0])
            console.print(table(columns, [[r[c] for c in columns] for r in rows]))
        nodes = data["swarm_nodes"]
        if nodes:
            columns = ["Hostname", "Status", "Availability", "ManagerStatus"]
            console.print(table(columns, [[n.get(c, "") for c in columns] for n in nodes]))
        else:
            console.print("swarm: no manager answers `docker node ls` yet", markup=False)

    output.emit(data, render)


def stop_simulation(output: Output, name: str) -> None:
    """Before `local down` removes the machines: the process that would boot them again."""
    if not sim.is_simulation(name):
        return
    cloud = "Azure" if sim.cloud_of(name) == "azure" else "AWS"
    if sim.stop(name):
        output.info(f"stopped the simulated {cloud} of cluster {name}")


def _swarm_nodes(cluster: LocalCluster) -> list[dict[str, Any]]:
    """`docker node ls` from the first manager that answers; empty when none does."""
    for machine in cluster.managers:
        try:
            result = cluster.ssh(
                machine.name,
                "sudo docker node ls --format '{{json .}}'",
                check=False,
                timeout=15,
            )
        except (LocalProviderError, subprocess.TimeoutExpired):  # still booting, or gone
            continue
        if result.returncode == 0:
            return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return []


AWS_COLUMNS = ("instance_id", "role", "lifecycle_state", "ec2_state", "machine", "address")
AZURE_COLUMNS = ("instance_id", "role", "vm_state", "hostname", "machine", "address")


def _print_instances(
    console: Console, rows: list[dict[str, Any]], columns: tuple[str, ...] = AWS_COLUMNS
) -> None:
    console.print(table(list(columns), [[r.get(c) or "" for c in columns] for r in rows]))


def _print_how_to_drive_azure(console: Console, urls: Any, group: str, name: str) -> None:
    from ..provisioners.local.sim.azure.local import sim_environment

    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sim_environment(urls).items())
    console.print(
        f"\nSimulated Azure Resource Manager: {urls.arm} (resource group {group}).\n"
        "Drive it with the Azure SDK (a client secret of the simulation, not yours):\n"
        f"  export {exports}\n"
        "  scale: PUT the scale set with a new sku.capacity; delete an instance: POST "
        '.../virtualMachineScaleSets/NAME/delete {"instanceIds": ["N"]}\n'
        f"Machines follow the scale sets; see them with: swarmstack local status --name {name}",
        markup=False,
    )


def _print_how_to_drive(console: Console, endpoint: str, region: str, name: str) -> None:
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sim.SIM_CREDENTIALS.items())
    console.print(
        f"\nDrive it with the AWS CLI (any credentials work; these keep yours out of it):\n"
        f"  export {exports} AWS_DEFAULT_REGION={region}\n"
        f"  aws --endpoint-url {endpoint} autoscaling describe-auto-scaling-groups\n"
        f"  aws --endpoint-url {endpoint} autoscaling set-desired-capacity "
        "--auto-scaling-group-name GROUP --desired-capacity N\n"
        f"Machines follow the groups; see them with: swarmstack local status --name {name}",
        markup=False,
    )
