"""Starting, finding and stopping a cluster's simulation process, and waiting for its
machines: the same for every simulated cloud (no moto needed here). The AWS simulation's own
start is start_service below; the Azure one's is azure/control.py.

Its files live in /var/lib/swarmstack/local/NAME/sim/:
    config.json     what the service serves (address, ports, region; "cloud": "azure" there)
    service.pid     the running process
    service.log     its log (servers, controller: boots, terminations)
    ready.json      where it serves, once its servers listen ({"aws": URL, "metadata": URL})
    instances.json  the controller's view: every instance and its machine
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....errors import LocalProviderError
from ....spec import ClusterSpec
from .. import detached, paths
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
    return detached.running_pid(files.pid, files.config)


def read_config(files: SimFiles) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(files.config.read_text())
    except (OSError, ValueError) as exc:
        raise LocalProviderError(f"{files.config}: not readable ({exc})") from None
    return data


def ready_answer(files: SimFiles) -> dict[str, Any] | None:
    """What the running simulation wrote to ready.json, or None when it does not run."""
    if service_pid(files) is None:
        return None
    try:
        answer: dict[str, Any] = json.loads(files.ready.read_text())
    except (OSError, ValueError):
        return None
    return answer


def launch_service(cluster: str, cloud: str, module: str, config: dict[str, Any]) -> dict[str, Any]:
    """Start `python -m MODULE CONFIG.json` for the cluster and wait until it serves; returns
    its ready.json. ``cloud`` names it in errors ("the AWS simulation of cluster NAME")."""
    files = SimFiles.of(cluster)
    files.dir.mkdir(parents=True, exist_ok=True)
    files.ready.unlink(missing_ok=True)
    config = {**config, "ready_file": str(files.ready), "status_file": str(files.instances)}
    files.config.write_text(json.dumps(config, indent=2) + "\n")
    process = detached.start(module, files.config, files.log, files.pid)
    what = f"the {cloud} simulation of cluster {cluster}"

    def not_started() -> LocalProviderError:
        if process.poll() is None:
            process.terminate()
        return LocalProviderError(
            f"{what} did not start", *_tail(files.log), hint=f"its log: {files.log}"
        )

    detached.wait_for(
        files.ready.exists,
        alive=lambda: process.poll() is None,
        deadline=time.monotonic() + READY_TIMEOUT,
        interval=0.1,
        died=not_started,
        late=not_started,
    )
    answer = ready_answer(files)
    if answer is None:  # pragma: no cover - ready was written by the live process
        raise LocalProviderError(f"{what} stopped at once")
    return answer


def running_endpoints(files: SimFiles) -> Endpoints | None:
    """Where the running AWS simulation serves, or None when it does not run."""
    answer = ready_answer(files)
    return None if answer is None else _endpoints(answer)


def _endpoints(answer: dict[str, Any]) -> Endpoints:
    return Endpoints(aws=str(answer["aws"]), metadata=str(answer["metadata"]))


def start_service(cluster: str, address: str, region: str) -> Endpoints:
    """Start the AWS simulation process for the cluster (once) and wait until it serves."""
    running = running_endpoints(SimFiles.of(cluster))
    if running is not None:
        return running
    config = {
        "cluster": cluster,
        "address": address,
        "region": region,
        "aws_port": AWS_PORT,
        "metadata_port": METADATA_PORT,
    }
    module = "swarmstack.provisioners.local.sim.service"
    return _endpoints(launch_service(cluster, "AWS", module, config))


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


def wait_for_machines(
    cluster: str,
    cloud: str,
    wants_machine: Callable[[dict[str, Any]], bool],
    *,
    timeout: float,
    progress: Callable[[str], None],
) -> None:
    """Until every instance whose status row ``wants_machine`` has a booted machine (SSH
    answers); a failed boot, the process's end or the timeout raise."""
    files = SimFiles.of(cluster)
    counts = [-1, 0]  # booted (last reported), wanted

    def all_booted() -> bool:
        rows = instances(files)
        failed = [r for r in rows if r["machine"] == "failed"]
        if failed:
            raise LocalProviderError(
                *(f"{r['instance_id']}: {r['error']}" for r in failed),
                hint=f"the simulation's log: {files.log}",
            )
        wanted = [r for r in rows if wants_machine(r)]
        booted = sum(1 for r in wanted if r["machine"] == "running")
        if booted != counts[0]:
            progress(f"machines booted: {booted}/{len(wanted)}")
        counts[:] = [booted, len(wanted)]
        return bool(wanted) and booted == len(wanted)

    detached.wait_for(
        all_booted,
        alive=lambda: service_pid(files) is not None,
        deadline=time.monotonic() + timeout,
        interval=0.5,
        died=lambda: LocalProviderError(
            f"the {cloud} simulation of cluster {cluster} is not running",
            hint=f"its log: {files.log}",
        ),
        late=lambda: LocalProviderError(
            f"{counts[0]} of {counts[1]} machines booted after {timeout:.0f} s",
            hint=f"the simulation's log: {files.log}",
        ),
    )


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
