"""Template parameters: supplied values and defaults, checked as Resource Manager checks them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import ArmError
from .expressions import type_name

# Template type -> (ARM's name in messages, the check of a value).
_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "string": ("String", lambda v: isinstance(v, str)),
    "securestring": ("String", lambda v: isinstance(v, str)),
    "int": ("Integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "bool": ("Boolean", lambda v: isinstance(v, bool)),
    "object": ("Object", lambda v: isinstance(v, Mapping)),
    "secureobject": ("Object", lambda v: isinstance(v, Mapping)),
    "array": ("Array", lambda v: isinstance(v, list)),
}
SECURE_TYPES = ("securestring", "secureobject")


def declared_type(name: str, definition: Mapping[str, Any]) -> str:
    kind = str(definition.get("type", "")).lower()
    if kind not in _TYPES:
        raise ArmError(
            "InvalidTemplate",
            f"the template parameter '{name}' has type '{definition.get('type')}'; allowed: "
            "string, securestring, int, bool, object, secureobject, array",
        )
    return kind


def check_output(name: str, kind: str, value: Any) -> None:
    """An output's value against its declared type, as Resource Manager checks it."""
    label, matches = _TYPES.get(kind.lower(), ("", lambda _v: True))
    if label and not matches(value):
        raise ArmError(
            "InvalidTemplate",
            f"The template output '{name}' is not valid: expected a value of type '{label}', "
            f"but received a value of type '{type_name(value)}'",
        )


def check_supplied(definitions: Mapping[str, Any], supplied: Mapping[str, Any]) -> None:
    known = {name.lower() for name in definitions}
    unknown = sorted(name for name in supplied if name.lower() not in known)
    if unknown:
        raise ArmError(
            "InvalidTemplate",
            "The following parameters were supplied, but do not correspond to any parameters "
            f"defined in the template: '{', '.join(unknown)}'",
        )


def check_value(name: str, definition: Mapping[str, Any], value: Any) -> None:
    """ARM's checks, in its order: type, allowedValues, minValue/maxValue, min/maxLength.
    Secure values never appear in a message."""
    kind = declared_type(name, definition)
    label, matches = _TYPES[kind]
    shown = "(secure value)" if kind in SECURE_TYPES else repr(value)
    if not matches(value):
        raise ArmError(
            "InvalidTemplate",
            f"Template parameter '{name}' was provided an invalid value: expected a value of "
            f"type '{label}', but received {shown} of type '{type_name(value)}'",
        )
    allowed = definition.get("allowedValues")
    if allowed is not None:
        values = value if kind == "array" else [value]
        if not all(_is_allowed(item, allowed) for item in values):
            raise ArmError(
                "InvalidTemplate",
                f"The provided value {shown} for the template parameter '{name}' is not valid: "
                f"the value is not part of the allowed value(s): "
                f"'{','.join(str(v) for v in allowed)}'",
            )
    if kind == "int":
        low, high = definition.get("minValue"), definition.get("maxValue")
        if low is not None and value < low:
            raise ArmError(
                "InvalidTemplate",
                f"The provided value {shown} for the template parameter '{name}' is not valid: "
                f"it must be greater than or equal to {low}",
            )
        if high is not None and value > high:
            raise ArmError(
                "InvalidTemplate",
                f"The provided value {shown} for the template parameter '{name}' is not valid: "
                f"it must be less than or equal to {high}",
            )
    if kind in ("string", "securestring", "array"):
        low, high = definition.get("minLength"), definition.get("maxLength")
        if low is not None and len(value) < low:
            raise ArmError(
                "InvalidTemplate",
                f"The provided value {shown} for the template parameter '{name}' is not valid: "
                f"its length must be at least {low}",
            )
        if high is not None and len(value) > high:
            raise ArmError(
                "InvalidTemplate",
                f"The provided value {shown} for the template parameter '{name}' is not valid: "
                f"its length must be at most {high}",
            )


def _is_allowed(item: Any, allowed: list[Any]) -> bool:
    # Same value and same JSON type: true is not 1.
    return any(item == option and type(item) is type(option) for option in allowed)


def missing(name: str) -> ArmError:
    return ArmError(
        "InvalidTemplate",
        f"The value for the template parameter '{name}' is not provided: supply it or give "
        "the parameter a defaultValue",
    )
