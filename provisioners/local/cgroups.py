"""Per-machine cgroups (v1 hierarchies or the v2 unified tree), for accounting and cleanup.

A machine's supervisor joins swarmstack/<cluster>/<machine> in every hierarchy before it starts
systemd-nspawn, so everything the machine runs (systemd, dockerd, containers) is accounted there
and teardown can find - and kill - every last process of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def hierarchies() -> list[Path]:
    """The mounted hierarchies: /sys/fs/cgroup itself on v2, its subdirectories on v1."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    found = []
    for entry in sorted(CGROUP_ROOT.iterdir()):
        # cpu,cpuacct style symlinks point at a hierarchy already listed.
        if entry.is_dir() and not entry.is_symlink() and (entry / "cgroup.procs").exists():
            found.append(entry)
    return found


def relative(cluster: str, machine: str | None = None) -> Path:
    base = Path("swarmstack") / cluster
    return base / machine if machine else base


def create(cluster: str, machine: str) -> list[Path]:
    """Make the machine's cgroup in each hierarchy (cpuset needs cpus/mems before tasks)."""
    made = []
    for hierarchy in hierarchies():
        path = hierarchy
        for part in relative(cluster, machine).parts:
            parent, path = path, path / part
            # Machines boot in parallel threads and share the cluster's directory.
            path.mkdir(exist_ok=True)
            _delegate_controllers(parent)
            for knob in ("cpuset.cpus", "cpuset.mems"):
                here, there = path / knob, parent / knob
                if here.exists() and not here.read_text().strip():
                    here.write_text(there.read_text())
        made.append(path)
    return made


def _delegate_controllers(parent: Path) -> None:
    """cgroup v2: children see memory/cpu/pids only when their parent enables them."""
    available = parent / "cgroup.controllers"
    control = parent / "cgroup.subtree_control"
    if not available.exists():
        return  # cgroup v1: every hierarchy has its controller already
    wanted = {"memory", "cpu", "pids"} & set(available.read_text().split())
    missing = wanted - set(control.read_text().split())
    for controller in sorted(missing):
        with contextlib.suppress(OSError):  # best effort: accounting, not function
            control.write_text(f"+{controller}\n")


def join(paths: list[Path], pid: int) -> None:
    for path in paths:
        (path / "cgroup.procs").write_text(f"{pid}\n")


def pids(cluster: str, machine: str | None = None) -> set[int]:
    """Every process left in the cluster's (or one machine's) cgroups, in any hierarchy."""
    found: set[int] = set()
    for hierarchy in hierarchies():
        top = hierarchy / relative(cluster, machine)
        if not top.exists():
            continue
        for directory, _dirs, _files in os.walk(top):
            try:
                text = Path(directory, "cgroup.procs").read_text()
            except OSError:
                continue
            found.update(int(line) for line in text.split())
    return found


def kill_all(cluster: str, machine: str | None = None) -> None:
    for pid in pids(cluster, machine):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def remove(cluster: str, machine: str | None = None) -> list[Path]:
    """rmdir the cgroups bottom-up (and the empty swarmstack/ parents); returns what is left."""
    left = []
    for hierarchy in hierarchies():
        top = hierarchy / relative(cluster, machine)
        if top.exists():
            for directory, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
                try:
                    Path(directory).rmdir()
                except OSError:
                    left.append(Path(directory))
        for parent in (hierarchy / relative(cluster), hierarchy / "swarmstack"):
            if machine is not None or parent.name == "swarmstack":
                with contextlib.suppress(OSError):  # other machines or clusters use it
                    parent.rmdir()
    return left


def exists(cluster: str) -> list[Path]:
    return [h / relative(cluster) for h in hierarchies() if (h / relative(cluster)).exists()]


def memory_bytes(cluster: str, machine: str) -> int | None:
    """Memory the machine uses now (everything in it, page cache included), if accounted."""
    for hierarchy in hierarchies():
        top = hierarchy / relative(cluster, machine)
        for knob in ("memory.current", "memory.usage_in_bytes"):
            try:
                return int((top / knob).read_text())
            except (OSError, ValueError):
                continue
    return None
