"""A service's volume on the shared storage follows its task (issue 14's "done when"): the task
writes to the volume, its node is drained, and the task rescheduled on the other node reads
what the first one wrote. Once with EFS (AWS), once with Azure Files.

Real here: the storage comes from the real templates (on moto: the CloudFormation template with
EnableCloudStorEfs on; on the fake Resource Manager: the ARM template of `azure template
--shared-storage`, deployed by hand); the `--mount` value and the directory's prepare command
are what `swarmstack volume mount-string` prints from them; `swarmstack bootstrap` forms the
swarm; docker's stock `local` driver mounts the share with the kernel's NFS 4.1 client, in
machines with a kernel of their own (vm_machines.py: this host's kernel has no NFS). Standing
in: the NFS service is NFS-Ganesha on the machines' bridge (nfs_server.py), and the answer of
the network's resolver for the server's name (EFS: the mount target in the node's zone; Azure
Files: the private endpoint) is a line in the machines' /etc/hosts.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.provisioners.local.plan import SWARM_DEFAULT_ADDR_POOL
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure
from swarmstack.templates.azure.storage import SHARE_NAME
from swarmstack.volumes import PREPARE_IMAGE

from ..service.azure.conftest import SUBSCRIPTION, fake_azure, secret_credential, tls_files
from ..service.azure.test_arm_deployments import GROUP, Rest, deploy_by_hand, rest
from ..service.conftest import aws_endpoint, moto_server, public_image_parameters
from ..service.test_aws_shared_storage import create_storage_stack
from .conftest import session_cluster_name
from .nfs_server import NfsServer
from .running import started, wait_until
from .vm_machines import VirtualMachines

# The service fixtures (moto on loopback with fake credentials and the public image parameters;
# the fake Resource Manager over TLS on loopback, with a resource group), used here by name.
__all__ = [
    "aws_endpoint",
    "fake_azure",
    "moto_server",
    "public_image_parameters",
    "rest",
    "tls_files",
]

STACK = "volumes"
VOLUME = "uploads"
# The first task records its node; every task then copies that record to a file named after
# its own node (the container's host name is the node's: --hostname below).
TASK = (
    "test -f /data/first || hostname > /data/first; "
    "cat /data/first > /data/read-by-$(hostname); exec sleep 3600"
)


@dataclass(frozen=True)
class Share:
    server: str  # the NFS server's name, as the mount value gives it
    root: str  # the share's root on that server: what EFS and Azure Files export
    cluster_flags: tuple[str, ...]  # how `volume mount-string` finds the cluster


@pytest.fixture(params=["efs", "azure_files"])
def share(request: pytest.FixtureRequest) -> Share:
    found: Share = request.getfixturevalue(f"{request.param}_share")
    return found


@pytest.fixture
def efs_share(aws_endpoint: str, public_image_parameters: str) -> Share:
    """The real CloudFormation template with shared storage, created on moto as a console
    user would."""
    boto3.client("ec2").create_key_pair(KeyName="ops")
    outputs = create_storage_stack(STACK)
    return Share(outputs["CloudStorEfsDnsName"], "/", ("--name", STACK))


@pytest.fixture
def azure_files_share(rest: Rest, fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch,
                      tmp_path: Path) -> Share:  # fmt: skip
    """The ARM template of `azure template --shared-storage`, deployed by hand on the fake
    Resource Manager."""
    outputs = deploy_by_hand(rest, tmp_path, "--manager-size", "1", "--shared-storage")
    monkeypatch.setattr(
        "swarmstack.azure.credentials.default_credential", lambda _: secret_credential(fake_azure)
    )
    account = outputs["volumesStorageAccount"]["value"]
    return Share(
        outputs["volumesNfsServer"]["value"],
        f"/{account}/{SHARE_NAME}",
        ("--name", "byhand", "-g", GROUP, "--subscription", SUBSCRIPTION,
         "--arm-endpoint", fake_azure.base_url),
    )  # fmt: skip


def test_a_volume_on_the_shared_storage_follows_its_task_to_another_node(
    share: Share, tmp_path: Path
) -> None:
    machines = VirtualMachines(session_cluster_name("vol"), 2, tmp_path / "machines")
    machines.hosts[share.server] = machines.bridge_address
    nfs_server = NfsServer(machines.bridge_address, tmp_path / "nfs")
    with started(machines), started(nfs_server) as nfs:
        root = nfs.export / share.root.lstrip("/")
        root.mkdir(parents=True, exist_ok=True)  # the file system or share, as created
        names = [m.name for m in machines.machines]
        inventory = tmp_path / "inventory.yaml"
        roles = dict(zip(names, ("manager", "worker"), strict=True))
        inventory.write_text(yaml.safe_dump(machines.inventory(roles)))
        runner = CliRunner()
        # The machines' own daemon.json keeps dockerd's pools in the benchmark range.
        formed = runner.invoke(
            cli,
            ["bootstrap", "-i", str(inventory), "--no-tuning",
             "--default-addr-pool", SWARM_DEFAULT_ADDR_POOL],
        )  # fmt: skip
        assert formed.exit_code == 0, formed.output

        printed = runner.invoke(
            cli, ["-o", "json", "volume", "mount-string", VOLUME, *share.cluster_flags]
        )
        assert printed.exit_code == 0, printed.output
        volume = json.loads(printed.stdout)
        assert volume["server"] == share.server
        for name in names:
            machines.load_busybox(name, PREPARE_IMAGE)
        manager = names[0]
        machines.run(manager, volume["prepare"])
        directory = root / VOLUME
        assert directory.is_dir(), "the prepare command makes the volume's directory on the share"

        machines.run(
            manager,
            "docker service create -d --no-resolve-image --name writer "
            "--hostname '{{.Node.Hostname}}' "
            f"--mount {shlex.quote(volume['mount'])} swarmstack/busybox:latest "
            f"sh -c {shlex.quote(TASK)}",
        )
        wait_until((directory / "first").exists, 120, "the first task to write to the volume")
        first = (directory / "first").read_text().strip()
        assert first in names
        other = next(n for n in names if n != first)

        machines.run(manager, f"docker node update --availability drain {first}")
        moved = directory / f"read-by-{other}"
        wait_until(moved.exists, 120, f"the task rescheduled on {other} to read the volume")
        assert moved.read_text().strip() == first
        # The same data as the rescheduled task itself sees it, through its own mount.
        seen = machines.run(
            other, "docker exec $(docker ps -q --filter name=writer) cat /data/first"
        )
        assert seen.strip() == first
