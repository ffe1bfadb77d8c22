"""What the AWS and Azure simulation fixtures (aws_simulation.py, azure_simulation.py) do
alike: one simulated cluster at a time, named PREFIX1, PREFIX2, ..., and commands on the
machines of its instances. A fixture keeps its cluster's description (a stack, a deployment:
anything with a ``cluster`` name) in ``current``.
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Generic, Protocol, TypeVar

from swarmstack.provisioners.local import LocalCluster, busybox_image, sim


class Made(Protocol):
    @property
    def cluster(self) -> str: ...


Current = TypeVar("Current", bound=Made)


class SimulationMachines(Generic[Current]):
    def __init__(self, name_prefix: str) -> None:
        self.prefix = name_prefix
        self.count = 0
        self.current: Current | None = None

    def next_cluster(self) -> str:
        """Remove the current cluster; the name of the next."""
        self.close()
        self.count += 1
        return f"{self.prefix}{self.count}"

    def machines(self) -> LocalCluster:
        assert self.current is not None, "no simulated cluster yet"
        return LocalCluster.open(self.current.cluster)

    def run(self, machine: str, command: str) -> str:
        """A command as root on the machine; its stdout (fails on a failure)."""
        return (
            self.machines().ssh(machine, f"sudo sh -c {shlex.quote(command)}", timeout=120).stdout
        )

    def join_tokens(self, manager: str) -> dict[str, str]:
        """role -> the swarm's join token, as the manager's dockerd tells it."""
        return {
            role: self.run(manager, f"docker swarm join-token -q {role}").strip()
            for role in ("worker", "manager")
        }

    def where_secrets_must_not_be(self, machine: str) -> str:
        """The machine's user data as cloud-init got it (gzip or not: `zcat -f`) and every
        process's command line and environment."""
        return self.run(
            machine,
            "zcat -f /var/lib/cloud/instance/user-data.txt; "
            "cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'",
        )

    def diagnose(self, machine: str) -> str:
        """The end of the machine's cloud-init output and of its node agent's journal."""
        out = self.machines().ssh(
            machine,
            "sudo tail -n 15 /var/log/cloud-init-output.log; "
            "sudo journalctl -u 'swarmstack-agent*' --no-pager -n 40",
            check=False,
        )
        return f"\n--- {machine}:\n{out.stdout}{out.stderr}"

    def load_busybox(self, machine: str) -> None:
        """The test image (swarmstack/busybox) into the machine's dockerd: machines have no
        registry to pull from."""
        cluster = self.machines()
        with busybox_image().open("rb") as image:
            subprocess.run(
                cluster.ssh_command(machine, ["sudo docker load"]),
                stdin=image,
                capture_output=True,
                check=True,
                timeout=120,
            )

    def close(self) -> None:
        if self.current is not None:
            sim.down(self.current.cluster)
            self.current = None
