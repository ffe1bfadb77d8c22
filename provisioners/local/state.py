"""The per-cluster state file (JSON), written atomically.

/var/lib/swarmstack/local/<cluster>/state.json records what exists on the host, so `down`,
`status` and the next `up` know which namespaces, mounts and processes belong to the cluster.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import LocalProviderError
from .plan import Machine, sort_machines

STATE_VERSION = 1


@dataclass
class ClusterState:
    name: str
    subnet_index: int
    image: str
    machines: tuple[Machine, ...] = field(default=())

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "version": STATE_VERSION,
            "name": self.name,
            "subnet_index": self.subnet_index,
            "image": self.image,
            "machines": [
                {"name": m.name, "role": m.role, "index": m.index, "address": m.address}
                for m in sort_machines(self.machines)
            ],
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "state") -> ClusterState:
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"unknown state version {data.get('version')!r}")
            machines = tuple(
                Machine(str(m["name"]), m["role"], int(m["index"]), str(m["address"]))
                for m in data["machines"]
            )
            for machine in machines:
                if machine.role not in ("manager", "worker"):
                    raise ValueError(f"unknown role {machine.role!r}")
            return cls(str(data["name"]), int(data["subnet_index"]), str(data["image"]), machines)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LocalProviderError(
                f"{source}: not a valid local cluster state file ({exc})",
                hint="scripts/testbed-clean.sh removes every local machine and its state",
            ) from None


def load(path: Path) -> ClusterState | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return ClusterState.from_json(text, str(path))


def save(path: Path, state: ClusterState) -> None:
    """Write-then-rename: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)
