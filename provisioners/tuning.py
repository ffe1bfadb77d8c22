"""Host tuning over SSH, for hosts that got no cloud-init user data (bring-your-own, local).

The script is ``swarmstack.cloudinit.tuning_script(spec, role, local_machine=...)`` (issue
4/6), looked up at run time so that a build without it simply applies no tuning. Applying is
idempotent: the script's digest is recorded on the host (facts.TUNING_MARKER) and the script
runs again only when it changes.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from typing import Any

from ..spec import ClusterSpec
from .facts import TUNING_MARKER
from .ssh import Connection

REMOTE_SCRIPT = "/tmp/swarmstack-tuning.sh"  # noqa: S108 - written by the SSH user, run once


def tuning_script_for(spec: ClusterSpec, role: str, *, local_machine: bool) -> str | None:
    """The tuning shell script for a host of ``role``, or None when there is none yet."""
    module = importlib.import_module("swarmstack.cloudinit")
    build: Callable[..., Any] | None = getattr(module, "tuning_script", None)
    if build is None:
        return None
    script = build(spec, role, local_machine=local_machine)
    return str(script) if script else None


def digest(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()


def apply_tuning(connection: Connection, script: str) -> None:
    """Upload the script over SFTP, run it as root, record its digest."""
    connection.put(script.encode(), REMOTE_SCRIPT, mode=0o700)
    connection.run(
        f"bash {REMOTE_SCRIPT} && mkdir -p {TUNING_MARKER.rsplit('/', 1)[0]} && "
        f"echo {digest(script)} > {TUNING_MARKER} && rm -f {REMOTE_SCRIPT}",
        mutating=True,
    )
