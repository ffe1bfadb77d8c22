"""Deployment parameters: what a person may change when deploying the ARM template by hand.

The SDK deploy uses the same names with the values resolved from the spec, so a body built for
either path differs only in how parameters are written (see refs.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...contract import MANAGER_SIZES, MANAGER_SIZES_PHRASE
from ...spec import AZURE_DISK_TYPES, DISK_MAX_GIB, DISK_MIN_GIB, MAX_WORKERS
from .settings import AzureSettings


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # ARM parameter type: string, int, bool
    value: Any  # the resolved value; the template's default (None = no default, required)
    description: str
    constraints: dict[str, Any] = field(default_factory=dict)

    def definition(self, template_default: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = {"type": self.type, "metadata": {"description": self.description}}
        default = self.value if template_default is None else template_default
        if default is not None:
            result["defaultValue"] = default
        result.update(self.constraints)
        return result


def parameters(settings: AzureSettings, location: str | None = None) -> list[Parameter]:
    """Every parameter, in template order. ``location`` None = the resource group's location."""
    spec = settings.spec
    disk_types = {"allowedValues": list(AZURE_DISK_TYPES)}
    disk_sizes = {"minValue": DISK_MIN_GIB, "maxValue": DISK_MAX_GIB}
    result = [
        Parameter("location", "string", location, "Azure location of every resource."),
        Parameter(
            "adminUsername",
            "string",
            settings.admin_username,
            "Admin user on every node (SSH key only; passwords are disabled).",
        ),
        Parameter(
            "sshPublicKey",
            "string",
            settings.ssh_public_key,
            "OpenSSH public key of the admin user, like 'ssh-ed25519 AAAA... you@example'.",
        ),
    ]
    if spec.ssh_cidr is not None:
        result.append(
            Parameter(
                "sshSourceCidr",
                "string",
                spec.ssh_cidr,
                "The only network allowed to reach the managers' SSH (never 0.0.0.0/0).",
            )
        )
    result += [
        Parameter(
            "managerCount",
            "int",
            spec.manager_size,
            f"Swarm managers: {MANAGER_SIZES_PHRASE} (raft quorum needs an odd count).",
            {"allowedValues": list(MANAGER_SIZES)},
        ),
        Parameter(
            "workerCount",
            "int",
            spec.cluster_size,
            f"Swarm workers: 0..{MAX_WORKERS}.",
            {"minValue": 0, "maxValue": MAX_WORKERS},
        ),
        Parameter("managerVmSize", "string", settings.manager_vm_size, "Manager VM size."),
        Parameter("workerVmSize", "string", settings.worker_vm_size, "Worker VM size."),
        Parameter(
            "managerDiskSizeGB",
            "int",
            spec.manager_disk_size,
            "Managers' /var/lib/docker data disk, GiB.",
            disk_sizes,
        ),
        Parameter(
            "workerDiskSizeGB",
            "int",
            spec.worker_disk_size,
            "Workers' /var/lib/docker data disk, GiB.",
            disk_sizes,
        ),
        Parameter(
            "managerDiskType",
            "string",
            settings.manager_disk_type,
            "Managers' disk SKU.",
            disk_types,
        ),
        Parameter(
            "workerDiskType", "string", settings.worker_disk_type, "Workers' disk SKU.", disk_types
        ),
    ]
    return result


def parameter_values(settings: AzureSettings, location: str) -> dict[str, Any]:
    """Name -> resolved value, for the SDK deploy."""
    return {p.name: p.value for p in parameters(settings, location)}


def parameter_definitions(settings: AzureSettings) -> dict[str, dict[str, Any]]:
    """The ARM template's `parameters` section."""
    definitions = {}
    for parameter in parameters(settings):
        default = "[resourceGroup().location]" if parameter.name == "location" else None
        definitions[parameter.name] = parameter.definition(default)
    return definitions
