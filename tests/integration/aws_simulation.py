"""The `aws_simulation` fixture's object: stacks on the AWS simulation, created as
`aws cloudformation create-stack` would (the stack is complete once every instance signalled;
no swarmstack command forms the swarm - the node agents do), and commands on their machines
(simulation_machines.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3

from swarmstack.provisioners.local import sim
from swarmstack.provisioners.local.sim.launch import sim_credentials
from swarmstack.spec import ClusterSpec

from .simulation_machines import SimulationMachines

REGION = "us-east-1"
SIGNAL = "Received SUCCESS signal with UniqueId "
BOOT_TIMEOUT = 300.0
SIGNAL_TIMEOUT = 300.0


@dataclass(frozen=True)
class SimStack:
    cluster: str
    name: str
    managers: int
    workers: int
    parameters: tuple[tuple[str, Any], ...]  # spec values and console parameter values

    def instances(self, role: str | None = None) -> list[str]:
        """Running instances of the stack (of one role), in a stable order."""
        rows = sim.status(self.cluster)["instances"]
        return sorted(
            r["instance_id"]
            for r in rows
            if r["ec2_state"] == "running" and (role is None or r["role"] == role)
        )


class AwsSimulation(SimulationMachines[SimStack]):
    """One simulated stack at a time; a stack of other counts replaces the current one."""

    def __init__(self, name_prefix: str) -> None:
        super().__init__(name_prefix)
        self.endpoint = ""

    def client(self, service: str) -> Any:
        with sim_credentials():
            return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def create_stack(
        self,
        managers: int,
        workers: int,
        *,
        console: dict[str, str] | None = None,
        resized_ok: bool = False,
        **parameters: Any,
    ) -> SimStack:
        """A stack of ``managers`` + ``workers`` with these spec values (``parameters``) and
        template parameter values set over them as in the console (``console``).

        The current stack is reused while it is as created; with ``resized_ok`` also when an
        earlier test changed its worker count (callers then read the counts from the stack)."""
        wanted = tuple(
            sorted({**parameters, "console": tuple(sorted((console or {}).items()))}.items())
        )
        current = self.current
        if (
            current is not None
            and (current.managers, current.parameters) == (managers, wanted)
            and len(current.instances("manager")) == managers
            and (
                resized_ok
                or (len(current.instances("worker")) == workers and current.workers == workers)
            )
        ):
            return current  # reuse its machines
        cluster = self.next_cluster()
        spec = ClusterSpec.model_validate(
            {
                "name": cluster,
                "manager_size": managers,
                "cluster_size": workers,
                "enable_cloudwatch_logs": False,
                **parameters,
            }
        )
        started = time.monotonic()
        result = sim.up(spec, name=cluster, progress=print, parameters=console)
        self.endpoint = result.endpoints.aws
        stack = self.current = SimStack(cluster, spec.name, managers, workers, wanted)
        sim.wait_for_instances(cluster, timeout=BOOT_TIMEOUT, progress=print)
        self._wait_for_signals(stack)
        took = time.monotonic() - started
        print(f"stack {spec.name}: {managers}+{workers} booted and signalled in {took:.0f} s")
        return stack

    def _wait_for_signals(self, stack: SimStack) -> None:
        """What CloudFormation waits for before CREATE_COMPLETE: a signal per instance."""
        cfn = self.client("cloudformation")
        deadline = time.monotonic() + SIGNAL_TIMEOUT
        while True:
            events = cfn.describe_stack_events(StackName=stack.name)["StackEvents"]
            said = {
                e.get("ResourceStatusReason", "").removeprefix(SIGNAL)
                for e in events
                if e.get("ResourceStatusReason", "").startswith(SIGNAL)
            }
            missing = set(stack.instances()) - said
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no Ready signal from {sorted(missing)} after {SIGNAL_TIMEOUT:.0f} s"
                    + self.diagnose(sorted(missing)[0])
                )
            time.sleep(2)
