"""Delete the EFS file system of shared storage after its stack, when the user asks for it.

The stack keeps the file system (DeletionPolicy Retain: the service volumes' data outlives
the stack). `delete-stack --delete-volumes` deletes it once the stack is gone. EFS refuses to
delete a file system that still has mount targets, and removes mount targets asynchronously:
the stack's delete has asked for theirs, so wait until none is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import AwsError
from .error_translation import aws_errors
from .session import AwsConnection

MOUNT_TARGETS_TIMEOUT = 300.0
POLL_SECONDS = 5.0


def delete_file_system(
    connection: AwsConnection,
    file_system_id: str,
    on_wait: Callable[[str], None],
    *,
    timeout: float = MOUNT_TARGETS_TIMEOUT,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Delete the file system (and its data), after its mount targets are gone."""
    efs = connection.efs()
    deadline = time.monotonic() + timeout
    with aws_errors():
        while targets := efs.describe_mount_targets(FileSystemId=file_system_id)["MountTargets"]:
            if time.monotonic() > deadline:
                raise AwsError(
                    f"EFS file system {file_system_id} still has {len(targets)} mount "
                    f"target(s) after {timeout:.0f}s; it was not deleted",
                    hint=f"delete it later: aws efs delete-file-system --file-system-id "
                    f"{file_system_id} --region {connection.region}",
                )
            on_wait(f"waiting for {len(targets)} mount target(s) of {file_system_id} to go")
            time.sleep(poll_seconds)
        efs.delete_file_system(FileSystemId=file_system_id)
