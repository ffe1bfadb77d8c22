"""How a body refers to other resources and to deployment parameters.

The builders never write an id or a parameter value themselves; they ask a `Refs`. For the SDK
deploy, `ConcreteRefs` gives real ids (/subscriptions/...) and the resolved values; for the ARM
template, `ArmRefs` gives `[resourceId(...)]` and `[parameters(...)]` expressions. That is what
keeps the deploy and the template one source of truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .settings import OS_DISK_TYPE_FOR


class Refs(Protocol):
    def resource_id(self, resource_type: str, *names: str) -> str:
        """The id of a resource or child, e.g. ('.../virtualNetworks/subnets', vnet, subnet)."""
        ...

    def param(self, name: str) -> Any:
        """A deployment parameter (see parameters.py): its value, or an ARM expression."""
        ...

    def format_param(self, template: str, name: str) -> str:
        """``template`` with ``{0}`` replaced by the parameter's value."""
        ...

    def os_disk_type(self, disk_type_param: str) -> Any:
        """The OS disk SKU for a scale set whose data disk SKU is the named parameter."""
        ...


class ConcreteRefs:
    """Real ids and values, for the Azure SDK."""

    def __init__(
        self, subscription_id: str, resource_group: str, values: Mapping[str, Any]
    ) -> None:
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.values = dict(values)

    def resource_id(self, resource_type: str, *names: str) -> str:
        namespace, *types = resource_type.split("/")
        if len(types) != len(names):
            raise ValueError(f"{resource_type} needs {len(types)} names, got {len(names)}")
        path = "/".join(f"{kind}/{name}" for kind, name in zip(types, names, strict=True))
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{namespace}/{path}"
        )

    def param(self, name: str) -> Any:
        return self.values[name]

    def format_param(self, template: str, name: str) -> str:
        return template.format(self.values[name])

    def os_disk_type(self, disk_type_param: str) -> Any:
        disk_type = self.values[disk_type_param]
        return OS_DISK_TYPE_FOR.get(disk_type, disk_type)


class ArmRefs:
    """ARM template expressions, evaluated by Resource Manager at deployment time."""

    def __init__(self, parameter_names: set[str]) -> None:
        self.parameter_names = parameter_names

    def resource_id(self, resource_type: str, *names: str) -> str:
        quoted = ", ".join(f"'{part}'" for part in (resource_type, *names))
        return f"[resourceId({quoted})]"

    def param(self, name: str) -> Any:
        if name not in self.parameter_names:
            raise KeyError(f"the template has no parameter {name}")
        return f"[parameters('{name}')]"

    def format_param(self, template: str, name: str) -> str:
        return f"[format('{template}', {self.param(name)[1:-1]})]"

    def os_disk_type(self, disk_type_param: str) -> Any:
        expression = f"parameters('{disk_type_param}')"
        (v2, os_type), *_ = OS_DISK_TYPE_FOR.items()
        return f"[if(equals({expression}, '{v2}'), '{os_type}', {expression})]"
