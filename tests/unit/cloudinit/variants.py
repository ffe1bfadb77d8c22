"""The rendered variants the host tuning tests run over, and readers for both forms."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from swarmstack.cloudinit import HostKeys, generate_host_keys, render_user_data
from swarmstack.spec import Cloud, ClusterSpec, Role

ROLES: tuple[Role, ...] = ("manager", "worker")
CLOUDS: tuple[Cloud, ...] = ("aws", "azure", "generic")
# The spec fields that change what a host gets; the rest never reach the user data.
SPEC_VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "all-on": {
        "enable_cloudwatch_logs": True,
        "enable_system_prune": True,
        "docker_version": "28.5.1",
        "default_addr_pool": ["10.128.0.0/12", "10.144.0.0/12"],
        "default_addr_pool_mask_length": 26,
        "ssh_public_key": (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3jZ1D6Yk4cXkqS5hQxJrRk6Yc2ZxO3Vb0yq2l9jQ3n"
            " admin@example #1: a comment with YAML's comment sign"
        ),
    },
    "all-off": {
        "enable_cloudwatch_logs": False,
        "enable_system_prune": False,
        "docker_version": "distro",
    },
}


@dataclass(frozen=True)
class Variant:
    role: Role
    cloud: Cloud
    spec_name: str
    with_host_keys: bool

    @property
    def id(self) -> str:
        keys = "-hostkeys" if self.with_host_keys else ""
        return f"{self.role}-{self.cloud}-{self.spec_name}{keys}"

    @property
    def spec(self) -> ClusterSpec:
        return make_spec(**SPEC_VARIANTS[self.spec_name])

    def render(self, host_keys: HostKeys | None = None) -> str:
        if self.with_host_keys and host_keys is None:
            host_keys = generate_host_keys()
        return render_user_data(self.spec, self.role, self.cloud, host_keys=host_keys)


ALL_VARIANTS = [
    Variant(role, cloud, spec_name, keys)
    for role, cloud, spec_name, keys in itertools.product(
        ROLES, CLOUDS, SPEC_VARIANTS, (False, True)
    )
]

HEREDOC = re.compile(
    r"^install_file (?P<path>\S+) (?P<mode>\d{4}) (?P<owner>\S+) <<'SWARMSTACK_FILE_END'\n"
    r"(?P<content>.*?)^SWARMSTACK_FILE_END$",
    re.MULTILINE | re.DOTALL,
)


def user_data_files(text: str) -> dict[str, tuple[str, str, str]]:
    """path -> (content, permissions, owner) from cloud-init's write_files."""
    data = yaml.safe_load(text)
    return {f["path"]: (f["content"], f["permissions"], f["owner"]) for f in data["write_files"]}


def script_files(script: str) -> dict[str, tuple[str, str, str]]:
    """path -> (content, mode, owner) from the SSH script's heredocs."""
    return {m["path"]: (m["content"], m["mode"], m["owner"]) for m in HEREDOC.finditer(script)}


def make_spec(**values: Any) -> ClusterSpec:
    """A validated spec (model_validate: the type checker cannot see pydantic's defaults)."""
    return ClusterSpec.model_validate(values)
