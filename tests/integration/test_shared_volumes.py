"""A service's volume on the shared storage follows its task (issue 14's "done when"): the task
writes to the volume, its node is drained, and the task rescheduled on the other node reads
what the first one wrote.

Real here: the stack is the real template with EnableCloudStorEfs on (on moto); the `--mount`
value and the directory's prepare command are what `swarmstack volume mount-string` prints from
that stack's outputs; `swarmstack bootstrap` forms the swarm; docker's stock `local` driver
mounts the share with the kernel's NFS 4.1 client, in machines with a kernel of their own
(vm_machines.py: this host's kernel has no NFS). Standing in: EFS is NFS-Ganesha on the
machines' bridge (nfs_server.py), and the VPC resolver's answer for the file system's DNS name
(the mount target in the node's zone) is a line in the machines' /etc/hosts.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner

from swarmstack.aws.stacks import stack_tags
from swarmstack.cli.main import cli
from swarmstack.provisioners.local.plan import SWARM_DEFAULT_ADDR_POOL
from swarmstack.spec import ClusterSpec
from swarmstack.templates.aws import build_template, render_body
from swarmstack.volumes import PREPARE_IMAGE

from ..service.conftest import aws_endpoint, moto_server, public_image_parameters
from .conftest import session_cluster_name
from .nfs_server import NfsServer
from .vm_machines import VirtualMachines

# The service fixtures (a moto server on loopback, fake credentials, the public image
# parameters), used here by name.
__all__ = ["aws_endpoint", "moto_server", "public_image_parameters"]

STACK = "volumes"
VOLUME = "uploads"
# The first task records its node; every task then copies that record to a file named after
# its own node (the container's host name is the node's: --hostname below).
TASK = (
    "test -f /data/first || hostname > /data/first; "
    "cat /data/first > /data/read-by-$(hostname); exec sleep 3600"
)


@pytest.fixture
def efs_stack(aws_endpoint: str, public_image_parameters: str) -> dict[str, str]:
    """The real template with shared storage, created on moto as a console user would; its
    outputs."""
    boto3.client("ec2").create_key_pair(KeyName="ops")
    spec = ClusterSpec.model_validate({"name": STACK, "shared_storage": True, "cluster_size": 1})
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=render_body(build_template(spec)).body,
        Parameters=[{"ParameterKey": "KeyName", "ParameterValue": "ops"}],
        Capabilities=["CAPABILITY_IAM"],
        Tags=stack_tags(STACK, {}),  # type: ignore[arg-type]
    )
    [stack] = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_volume_on_the_shared_storage_follows_its_task_to_another_node(
    efs_stack: dict[str, str], tmp_path: Path
) -> None:
    machines = VirtualMachines(session_cluster_name("vol"), 2, tmp_path / "machines")
    machines.hosts[efs_stack["CloudStorEfsDnsName"]] = machines.bridge_address
    with machines, NfsServer(machines.bridge_address, tmp_path / "nfs") as efs:
        names = [m.name for m in machines.machines]
        inventory = tmp_path / "inventory.yaml"
        inventory.write_text(
            yaml.safe_dump(machines.inventory(dict(zip(names, ("manager", "worker"), strict=True))))
        )
        runner = CliRunner()
        # The machines' own daemon.json keeps dockerd's pools in the benchmark range.
        formed = runner.invoke(
            cli,
            ["bootstrap", "-i", str(inventory), "--no-tuning",
             "--default-addr-pool", SWARM_DEFAULT_ADDR_POOL],
        )  # fmt: skip
        assert formed.exit_code == 0, formed.output

        printed = runner.invoke(
            cli, ["-o", "json", "volume", "mount-string", VOLUME, "--name", STACK]
        )
        assert printed.exit_code == 0, printed.output
        volume = json.loads(printed.stdout)
        assert volume["server"] == efs_stack["CloudStorEfsDnsName"]
        for name in names:
            machines.load_busybox(name, PREPARE_IMAGE)
        manager = names[0]
        machines.run(manager, volume["prepare"])
        share = efs.export / VOLUME
        assert share.is_dir(), "the prepare command makes the volume's directory on the share"

        machines.run(
            manager,
            "docker service create -d --no-resolve-image --name writer "
            "--hostname '{{.Node.Hostname}}' "
            f"--mount {shlex.quote(volume['mount'])} swarmstack/busybox:latest "
            f"sh -c {shlex.quote(TASK)}",
        )
        _wait(lambda: (share / "first").exists(), 120, "the first task to write to the volume")
        first = (share / "first").read_text().strip()
        assert first in names
        other = next(n for n in names if n != first)

        machines.run(manager, f"docker node update --availability drain {first}")
        moved = share / f"read-by-{other}"
        _wait(moved.exists, 120, f"the task rescheduled on {other} to read the volume")
        assert moved.read_text().strip() == first
        # The same data as the rescheduled task itself sees it, through its own mount.
        seen = machines.run(
            other, "docker exec $(docker ps -q --filter name=writer) cat /data/first"
        )
        assert seen.strip() == first
