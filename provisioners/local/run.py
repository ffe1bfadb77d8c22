"""Running host commands: one place that turns a failed command into a clear error."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from ...errors import LocalProviderError, NeedsRoot

log = logging.getLogger(__name__)


def require_root(action: str) -> None:
    """Network namespaces, mounts and systemd-nspawn need root; say so before touching anything."""
    if os.geteuid() != 0:
        raise NeedsRoot(
            f"{action} needs root: the local machines use network namespaces, "
            "overlay mounts and systemd-nspawn",
            hint="run it with sudo, e.g. sudo .venv/bin/swarmstack local up",
        )


# Host programs the local machines need, and the Debian package that brings each.
HOST_TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "ip": "iproute2",
    "iptables": "iptables",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "mount": "mount",
}


def require_host_tools() -> None:
    """All missing programs in one error, before anything is created."""
    missing = {tool: package for tool, package in HOST_TOOLS.items() if not shutil.which(tool)}
    if missing:
        raise LocalProviderError(
            *(f"{tool} not found (Debian package {package})" for tool, package in missing.items()),
            hint="scripts/setup.sh installs them: apt-get install -y "
            + " ".join(sorted(set(missing.values()))),
        )


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a host command, capture its output; a failure names the command and its stderr."""
    log.debug("run: %s", " ".join(args))
    full_env = None if env is None else {**os.environ, **env}
    try:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            env=full_env,
            input=input_text,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise LocalProviderError(
            f"command not found: {args[0]}",
            hint="scripts/setup.sh installs what the local machines need",
        ) from None
    except subprocess.TimeoutExpired:
        raise LocalProviderError(f"{' '.join(args)}: no answer after {timeout} s") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        last = detail[-1] if detail else "no output"
        raise LocalProviderError(f"{' '.join(args)} failed (exit {result.returncode}): {last}")
    return result


def succeeds(args: Sequence[str]) -> bool:
    """True when the command exits 0 (for probes such as `iptables -C`)."""
    return run(args, check=False).returncode == 0
