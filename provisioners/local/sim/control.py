"""Starting, finding and stopping a cluster's simulation process (no moto needed here).

Its files live in /var/lib/swarmstack/local/NAME/sim/:
    config.json     what service.py serves (address, ports, region)
    service.pid     the running process
    service.log     its log (servers, controller: boots, terminations)
    ready.json      {"aws": URL, "metadata": URL} once both servers listen
    instances.json  the controller's view: every instance and its machine
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....errors import LocalProviderError
from ....spec import ClusterSpec
from .. import paths
from .seed import Endpoints

AWS_PORT = 5000  # moto's own default port
METADATA_PORT = 8169
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class SimFiles:
    dir: Path

    @classmethod
    def of(cls, cluster: str) -> SimFiles:
        return cls(paths.STATE_ROOT / cluster / "sim")

    @property
    def config(self) -> Path:
        return self.dir / "config.json"

    @property
    def pid(self) -> Path:
        return self.dir / "service.pid"

    @property
    def log(self) -> Path:
        return self.dir / "service.log"

    @property
    def ready(self) -> Path:
        return self.dir / "ready.json"

    @property
    def instances(self) -> Path:
        return self.dir / "instances.json"


def is_simulation(cluster: str) -> bool:
    """True for a cluster made by `local up --cloud aws`."""
    return SimFiles.of(cluster).config.exists()


def service_pid(files: SimFiles) -> int | None:
    """The running simulation process, or None (a stale pid file is ignored)."""
    try:
        pid = int(files.pid.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if str(files.config).encode() in cmdline else None


def read_config(files: SimFiles) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(files.config.read_text())
    except (OSError, ValueError) as exc:
        raise LocalProviderError(f"{files.config}: not readable ({exc})") from None
    return data


def running_endpoints(files: SimFiles) -> Endpoints | None:
    """Where the running simulation serves, or None when it does not run."""
    if service_pid(files) is None:
        return None
    try:
        ready = json.loads(files.ready.read_text())
    except (OSError, ValueError):
        return None
    return Endpoints(aws=str(ready["aws"]), metadata=str(ready["metadata"]))


def start_service(cluster: str, address: str, region: str) -> Endpoints:
    """Start the simulation process for the cluster (once) and wait until it serves."""
    files = SimFiles.of(cluster)
    running = running_endpoints(files)
    if running is not None:
        return running
    files.dir.mkdir(parents=True, exist_ok=True)
    files.ready.unlink(missing_ok=True)
    config = {
        "cluster": cluster,
        "address": address,
        "region": region,
        "aws_port": AWS_PORT,
        "metadata_port": METADATA_PORT,
        "ready_file": str(files.ready),
        "status_file": str(files.instances),
    }
    files.config.write_text(json.dumps(config, indent=2) + "\n")
    with files.log.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "swarmstack.provisioners.local.sim.service", str(files.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives the CLI that started it
            close_fds=True,
        )
    files.pid.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while not files.ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.terminate()
            raise LocalProviderError(
                f"the AWS simulation of cluster {cluster} did not start",
                *_tail(files.log),
                hint=f"its log: {files.log}",
            )
        time.sleep(0.1)
    found = running_endpoints(files)
    if found is None:  # pragma: no cover - ready was written by the live process
        raise LocalProviderError(f"the AWS simulation of cluster {cluster} stopped at once")
    return found


def stop_service(cluster: str) -> bool:
    """SIGTERM the simulation process and wait for it; True when one was running."""
    files = SimFiles.of(cluster)
    pid = service_pid(files)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while service_pid(files) is not None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            break
        time.sleep(0.1)
    return True


def instances(files: SimFiles) -> list[dict[str, Any]]:
    """The controller's last view of the instances (empty before its first poll)."""
    try:
        rows: list[dict[str, Any]] = json.loads(files.instances.read_text())["instances"]
    except (OSError, ValueError, KeyError):
        return []
    return rows


def _tail(log: Path, lines: int = 5) -> list[str]:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return []
    return text[-lines:]


def machine_spec(spec: ClusterSpec, progress: Callable[[str], None]) -> ClusterSpec:
    """The spec with swarm overlay pools the machines may use (the network rule): a spec
    written for a cloud gets the local machines' pool instead, with a warning."""
    from ..formation import local_spec  # the SSH bootstrap's modules: loaded only here

    return local_spec(spec, pool_from_flag=False, warn=progress)
