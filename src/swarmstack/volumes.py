"""Service volumes on the cluster's shared NFS storage, with docker's stock `local` driver.

Every volume is a directory of one NFS export (EFS root on AWS, the `volumes` share on Azure).
Docker mounts it itself on whichever node runs the task, so a rescheduled task finds its data.
Docker resolves a host name in ``addr=`` only for the mount type ``nfs`` (not ``nfs4``), so the
type is ``nfs`` and the protocol version goes in the options (``nfsvers=4.1``). The directory
must exist before the first mount: `prepare` is a one-off container that creates it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .errors import UsageError

# Docker's volume name rule, minus '.' starts: the name is also a directory on the share.
VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Amazon's recommended options for EFS; Azure Files NFS takes the same (sec=sys is its only).
EFS_OPTIONS = "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport"
AZURE_FILES_OPTIONS = "nfsvers=4.1,sec=sys,hard,timeo=600,retrans=2,noresvport"
PREPARE_IMAGE = "busybox:stable"


@dataclass(frozen=True)
class NfsExport:
    """Where the cluster's volumes live: the NFS server name, export root and mount options."""

    server: str
    root: str  # "/" on EFS, "/ACCOUNT/volumes" on Azure Files
    options: str


def check_volume_name(name: str) -> str:
    if not VOLUME_NAME.fullmatch(name):
        raise UsageError(
            f"VOLUME={name!r}: must be 1-128 letters, digits, '_', '.' or '-', starting with "
            "a letter or digit (it names the docker volume and its directory on the share)"
        )
    return name


def check_target(target: str) -> str:
    if not target.startswith("/") or any(c in target for c in ",\"'\n"):
        raise UsageError(
            f"--target={target!r}: must be an absolute path in the container, like /data, "
            "without commas or quotes (it is a field of the --mount value)"
        )
    return target


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def _mount_fields(export: NfsExport, device: str) -> list[str]:
    # The o= value holds commas, so it is one quoted CSV field of the --mount value.
    return [
        "volume-driver=local",
        "volume-opt=type=nfs",
        f"volume-opt=device=:{device}",
        f'"volume-opt=o=addr={export.server},{export.options}"',
    ]


def mount_value(export: NfsExport, name: str, target: str = "/data") -> str:
    """The value of `docker service create --mount` for volume `name` at `target`."""
    check_volume_name(name)
    check_target(target)
    fields = _mount_fields(export, _join(export.root, name))
    return ",".join([f"type=volume,source={name},target={target}", *fields])


def prepare_command(export: NfsExport, name: str) -> str:
    """A one-off `docker run` (on any node) that creates the volume's directory on the share.

    It mounts the export root as an anonymous volume (removed with the container, not the
    data) and runs mkdir -p, so running it twice is harmless.
    """
    check_volume_name(name)
    root = ",".join(["type=volume,target=/share", *_mount_fields(export, export.root)])
    return (
        f"docker run --rm --mount {shlex.quote(root)} {PREPARE_IMAGE} "
        f"mkdir -p {shlex.quote(_join('/share', name))}"
    )


# Stack outputs of templates/aws/storage.py (kept literal here: this module imports no SDK).
EFS_DNS_OUTPUT = "CloudStorEfsDnsName"


def efs_export(stack: str, outputs: dict[str, str]) -> NfsExport:
    """The EFS file system of a stack, from its outputs; UsageError when it has none."""
    server = outputs.get(EFS_DNS_OUTPUT)
    if not server:
        raise UsageError(
            f"stack {stack} has no shared storage (output {EFS_DNS_OUTPUT} is missing)",
            hint="update the stack with shared_storage: true (--shared-storage) and "
            "EnableCloudStorEfs=yes",
        )
    return NfsExport(server=server, root="/", options=EFS_OPTIONS)


def azure_files_export(account: dict[str, Any], share: str) -> NfsExport:
    """The NFS share of a storage account body (its file endpoint names the server)."""
    endpoint = account.get("properties", {}).get("primaryEndpoints", {}).get("file", "")
    server = urlparse(endpoint).hostname
    if not server:
        raise UsageError(
            f"storage account {account.get('name')} has no file endpoint; "
            "is it a FileStorage account?"
        )
    return NfsExport(server=server, root=f"/{account['name']}/{share}", options=AZURE_FILES_OPTIONS)
