"""Stack parameter values for a template body.

The template builder bakes the spec into each parameter's Default, so the template is the one
source of truth. We still pass every value explicitly: a change set then never silently keeps
a previous value, and a parameter without a default is caught here, before any AWS call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..specload import flag_name
from .stacks import template_parameters

# Template parameters that come from a spec field, to name the flag in an error.
SPEC_FIELD_OF_PARAMETER = {
    "KeyName": "key_name",
    "InstanceType": "instance_type",
    "ManagerInstanceType": "manager_instance_type",
    "ClusterSize": "cluster_size",
    "ManagerSize": "manager_size",
    "SshCidr": "ssh_cidr",
    "Vpc": "existing_vpc_id",
}


def parameter_values(body: str) -> dict[str, str]:
    """Every declared parameter with its default as CloudFormation's text form."""
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, declaration in template_parameters(body).items():
        if "Default" in declaration:
            values[name] = _as_text(declaration["Default"])
        else:
            missing.append(name)
    if missing:
        raise UsageError(*(_missing_line(name) for name in missing))
    return values


def _missing_line(parameter: str) -> str:
    field = SPEC_FIELD_OF_PARAMETER.get(parameter)
    if field:
        return f"{flag_name(field)}: required to launch (template parameter {parameter})"
    return f"template parameter {parameter} has no value and no default"


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(item) for item in value)
    return str(value)


@dataclass(frozen=True)
class ParameterChange:
    """A parameter whose value an update changes (CloudFormation lists resources, not these)."""

    name: str
    old: str | None  # None: the parameter is new in this template
    new: str

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "old": self.old, "new": self.new}


def parameter_changes(current: dict[str, str], wanted: dict[str, str]) -> list[ParameterChange]:
    return [
        ParameterChange(name, current.get(name), value)
        for name, value in sorted(wanted.items())
        if current.get(name) != value
    ]
