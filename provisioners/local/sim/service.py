"""The simulation's long-running process: moto's server, the IMDS emulation and the controller.

Started detached by control.start_service as
    python -m swarmstack.provisioners.local.sim.service CONFIG.json
and lives as long as the cluster (moto keeps the simulated account in this process's memory).
Both servers listen on the cluster's bridge address only. SIGTERM stops it; the machines are
left to `local down`, which stops this process first.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.server import ThreadedMotoServer

from ..cluster import LocalCluster
from . import corrections
from .controller import Controller
from .imds import ImdsServer, InstanceMetadata
from .seed import Endpoints
from .serving import log, main, run_controller

# The credentials the simulation's own clients use; moto accepts any.
CONSOLE_BYTES = 64 * 1024  # EC2's GetConsoleOutput: the last 64 KB
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    # botocore must never probe the instance metadata address.
    "AWS_EC2_METADATA_DISABLED": "true",
}


def imds_lookup(region: str) -> Any:
    """address -> InstanceMetadata from moto's EC2 (the instance whose private IP it is)."""

    def lookup(address: str) -> InstanceMetadata | None:
        backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
        for instance in list(backend.all_instances()):
            if instance.private_ip != address or instance.state == "terminated":
                continue
            rows = backend.describe_tags({"resource-id": [instance.id]})
            tags = {row["key"]: row["value"] for row in rows}
            return InstanceMetadata(
                instance_id=instance.id,
                account_id=DEFAULT_ACCOUNT_ID,
                region=region,
                availability_zone=str(instance.availability_zone),
                private_ip=address,
                hostname=instance.id,
                image_id=instance.image_id,
                instance_type=instance.instance_type,
                launched=_launch_time(instance),
                tags=tags,
                role_name=_role_name(backend, instance, tags),
                user_data=_user_data(instance),
            )
        return None

    return lookup


def _launch_time(instance: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(instance.launch_time).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)


def _role_name(backend: Any, instance: Any, tags: dict[str, str]) -> str | None:
    """The role of the instance's profile (what iam/security-credentials/ lists).

    AWS gives an instance its launch template's IamInstanceProfile; moto's groups launch
    without it, so the profile is read from the template version the instance came from."""
    profile = instance.iam_instance_profile
    arn = profile.get("Arn") if isinstance(profile, dict) else None
    template_id = tags.get("aws:ec2launchtemplate:id")
    if not arn and template_id:
        try:
            template = backend.get_launch_template(template_id)
            version = template.get_version(tags.get("aws:ec2launchtemplate:version", "$Default"))
        except Exception:  # the template is gone (stack deleted): no credentials then
            return None
        arn = (version.data.get("IamInstanceProfile") or {}).get("Arn")
    if not arn:
        return None
    name = str(arn).rsplit("/", 1)[-1]
    for candidate in iam_backends[DEFAULT_ACCOUNT_ID]["global"].instance_profiles.values():
        if candidate.name == name and candidate.roles:
            return str(candidate.roles[0].name)
    return None


def _user_data(instance: Any) -> bytes | None:
    data = instance.user_data
    if not data:
        return None
    first = data[0] if isinstance(data, list) else data
    return first if isinstance(first, bytes) else str(first).encode()


def address_setter(region: str) -> Any:
    """(instance id, address): the instance's private IP in moto becomes its machine's."""

    def set_address(instance_id: str, address: str) -> None:
        instance = ec2_backends[DEFAULT_ACCOUNT_ID][region].get_instance(instance_id)
        nic = instance.nics[0]
        nic.private_ip_address = address
        nic.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": address}]

    return set_address


class MachineConsoles(dict[str, str]):
    """GetConsoleOutput in the simulation: an instance's console is its machine's console log
    (nspawn's read-only console, where cloud-init printed the host keys), its last 64 KB as
    EC2 keeps. Read when asked, so it follows the machine."""

    def __init__(self, cluster_dir: Path) -> None:
        super().__init__()
        self.cluster_dir = cluster_dir

    def get(self, instance_id: str, default: Any = None) -> Any:
        path = self.cluster_dir / "machines" / instance_id / "console.log"
        try:
            with path.open("rb") as log:
                log.seek(max(0, path.stat().st_size - CONSOLE_BYTES))
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return default


def serve(config: dict[str, Any]) -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per API call
    os.environ.update(FAKE_CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    address, region = config["address"], config["region"]
    corrections.apply_fake_corrections()
    moto = ThreadedMotoServer(ip_address=address, port=config["aws_port"], verbose=False)
    moto.start()
    aws = f"http://{address}:{config['aws_port']}"

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=aws)  # type: ignore[call-overload]

    image = client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    corrections.seed_public_image_parameters(region, image)
    imds = ImdsServer(address, config["metadata_port"], imds_lookup(region))
    imds.start()
    endpoints = Endpoints(aws=aws, metadata=imds.endpoint)
    cluster = LocalCluster.open(config["cluster"], progress=log)
    corrections.INSTANCE_CONSOLES = MachineConsoles(cluster.dir)
    controller = Controller(
        cluster,
        endpoints,
        client,
        address_setter(region),
        Path(config["status_file"]),
        log,
    )

    def stop_servers() -> None:
        imds.stop()
        moto.stop()

    return run_controller(
        controller,
        config,
        ready={"aws": endpoints.aws, "metadata": endpoints.metadata},
        serving=f"serving AWS at {endpoints.aws}, IMDS at {endpoints.metadata} ({region})",
        stop_servers=stop_servers,
    )


if __name__ == "__main__":
    main(serve)
