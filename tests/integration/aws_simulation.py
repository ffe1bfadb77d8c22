"""The `aws_simulation` fixture's object: stacks on the AWS simulation, created as
`aws cloudformation create-stack` would (the stack is complete once every instance signalled;
no swarmstack command forms the swarm - the node agents do), and commands on their machines.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import boto3

from swarmstack.provisioners.local import LocalCluster, busybox_image, sim
from swarmstack.provisioners.local.sim.launch import sim_credentials
from swarmstack.spec import ClusterSpec

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


class AwsSimulation:
    """One simulated stack at a time; a stack of other counts replaces the current one."""

    def __init__(self, name_prefix: str) -> None:
        self.prefix = name_prefix
        self.count = 0
        self.stack: SimStack | None = None
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
        current = self.stack
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
        self.close()
        self.count += 1
        cluster = f"{self.prefix}{self.count}"
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
        self.stack = SimStack(cluster, spec.name, managers, workers, wanted)
        sim.wait_for_instances(cluster, timeout=BOOT_TIMEOUT, progress=print)
        self._wait_for_signals(self.stack)
        took = time.monotonic() - started
        print(f"stack {spec.name}: {managers}+{workers} booted and signalled in {took:.0f} s")
        return self.stack

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
                    + self._diagnose(sorted(missing)[0])
                )
            time.sleep(2)

    def _diagnose(self, instance_id: str) -> str:
        assert self.stack is not None
        cluster = LocalCluster.open(self.stack.cluster)
        out = cluster.ssh(
            instance_id,
            "sudo tail -n 15 /var/log/cloud-init-output.log; "
            "sudo journalctl -u 'swarmstack-agent*' --no-pager -n 30",
            check=False,
        )
        return f"\n--- {instance_id}:\n{out.stdout}{out.stderr}"

    def load_busybox(self, instance_id: str) -> None:
        """The test image (swarmstack/busybox) into the instance's dockerd: machines have no
        registry to pull from."""
        assert self.stack is not None
        cluster = LocalCluster.open(self.stack.cluster)
        with busybox_image().open("rb") as image:
            subprocess.run(
                cluster.ssh_command(instance_id, ["sudo docker load"]),
                stdin=image,
                capture_output=True,
                check=True,
                timeout=120,
            )

    def run(self, instance_id: str, command: str) -> str:
        """A command as root on the instance's machine; its stdout (fails on a failure)."""
        assert self.stack is not None
        cluster = LocalCluster.open(self.stack.cluster)
        return cluster.ssh(instance_id, f"sudo sh -c {shlex.quote(command)}", timeout=120).stdout

    def close(self) -> None:
        if self.stack is not None:
            sim.down(self.stack.cluster)
            self.stack = None
