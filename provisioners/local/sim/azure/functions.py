"""Template functions that need no deployment state: strings, logic, numbers, arrays, ids.

Each takes the evaluated arguments as a list and raises FunctionError with a short problem;
the evaluator names the function and the expression. guid() follows Resource Manager's recipe
as public reimplementations give it (a name-based UUID v5 in ARM's namespace over the arguments
joined with '-'), so role assignment names match Azure's. uniqueString() is deterministic, 13
base-32 characters like Azure's, but a different hash (Azure uses its own MurmurHash64 variant).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .expressions import Function, FunctionError, type_name

# The namespace Resource Manager's guid() hashes names in (UUID v5, RFC 4122).
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def _count(args: list[Any], low: int, high: int | None = None) -> None:
    """low..high arguments (high None: exactly low; high -1: no upper bound)."""
    high = low if high is None else high
    if len(args) < low or 0 <= high < len(args):
        ranges = {low: str(low), -1: f"at least {low}"}
        wanted = ranges.get(high, f"{low} to {high}")
        raise FunctionError(f"expects {wanted} arguments, got {len(args)}")


def _strings(args: list[Any]) -> list[str]:
    for arg in args:
        if not isinstance(arg, str):
            raise FunctionError(f"expects strings, got {type_name(arg)} {_show(arg)}")
    return list(args)


def _integer(arg: Any) -> int:
    if isinstance(arg, bool) or not isinstance(arg, int):
        raise FunctionError(f"expects integers, got {type_name(arg)} {_show(arg)}")
    return arg


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def text_of(value: Any) -> str:
    """How ARM writes a value into a string (format, concat, string())."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


def concat(args: list[Any]) -> Any:
    _count(args, 1, -1)
    if all(isinstance(arg, list) for arg in args):
        return [item for arg in args for item in arg]
    if any(isinstance(arg, list | Mapping) for arg in args):
        raise FunctionError("expects all strings or all arrays")
    return "".join(text_of(arg) for arg in args)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?::([^}]*))?\}|[{}]")


def format_(args: list[Any]) -> str:
    _count(args, 1, -1)
    template = _strings(args[:1])[0]
    values = args[1:]

    def item(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            raise FunctionError(f"the format string {template!r} has an unmatched {token!r}")
        index = int(match.group(1))
        if index >= len(values):
            raise FunctionError(
                f"the format string {template!r} refers to argument {{{index}}} but "
                f"{len(values)} were given"
            )
        spec = match.group(2)
        if spec:
            raise FunctionError(f"the format specifier ':{spec}' is not supported")
        return text_of(values[index])

    return _FORMAT_ITEM.sub(item, template)


def guid(args: list[Any]) -> str:
    _count(args, 1, -1)
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(_strings(args))))


def unique_string(args: list[Any]) -> str:
    _count(args, 1, -1)
    digest = hashlib.sha256("-".join(_strings(args)).encode()).digest()[:8]
    return base64.b32encode(digest).decode().lower()[:13]


def _equals(args: list[Any]) -> bool:
    _count(args, 2)
    left, right = args
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _compare(op: Callable[[Any, Any], bool]) -> Function:
    def compare(args: list[Any]) -> bool:
        _count(args, 2)
        left, right = args
        if isinstance(left, str) and isinstance(right, str):
            return op(left, right)
        return op(_integer(left), _integer(right))

    return compare


def _booleans(args: list[Any]) -> list[bool]:
    for arg in args:
        if not isinstance(arg, bool):
            raise FunctionError(f"expects booleans, got {type_name(arg)} {_show(arg)}")
    return list(args)


def _not(args: list[Any]) -> bool:
    _count(args, 1)
    return not _booleans(args)[0]


def _and(args: list[Any]) -> bool:
    _count(args, 2, -1)
    return all(_booleans(args))


def _or(args: list[Any]) -> bool:
    _count(args, 2, -1)
    return any(_booleans(args))


def _arithmetic(op: Callable[[int, int], int], divides: bool = False) -> Function:
    def arithmetic(args: list[Any]) -> int:
        _count(args, 2)
        left, right = (_integer(arg) for arg in args)
        if divides and right == 0:
            raise FunctionError("division by zero")
        return op(left, right)

    return arithmetic


def _truncating_div(left: int, right: int) -> int:
    quotient = abs(left) // abs(right)
    return quotient if (left >= 0) == (right >= 0) else -quotient


def _truncating_mod(left: int, right: int) -> int:
    return left - right * _truncating_div(left, right)


def _length(args: list[Any]) -> int:
    _count(args, 1)
    value = args[0]
    if isinstance(value, str | list | Mapping):
        return len(value)
    raise FunctionError(f"expects a string, array or object, got {type_name(value)}")


def _empty(args: list[Any]) -> bool:
    _count(args, 1)
    value = args[0]
    if value is None:
        return True
    if isinstance(value, str | list | Mapping):
        return len(value) == 0
    raise FunctionError(f"expects a string, array or object, got {type_name(value)}")


def _contains(args: list[Any]) -> bool:
    _count(args, 2)
    container, item = args
    if isinstance(container, str):
        return text_of(item).lower() in container.lower()
    if isinstance(container, Mapping):
        return any(key.lower() == text_of(item).lower() for key in container)
    if isinstance(container, list):
        return item in container
    raise FunctionError(f"expects a string, array or object, got {type_name(container)}")


def _string(args: list[Any]) -> str:
    _count(args, 1)
    return text_of(args[0])


def _int(args: list[Any]) -> int:
    _count(args, 1)
    value = args[0]
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise FunctionError(f"cannot convert {type_name(value)} {_show(value)} to an integer")


def _bool(args: list[Any]) -> bool:
    _count(args, 1)
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int):
        return value != 0
    raise FunctionError(f"cannot convert {type_name(value)} {_show(value)} to a boolean")


def _to_lower(args: list[Any]) -> str:
    _count(args, 1)
    return _strings(args)[0].lower()


def _to_upper(args: list[Any]) -> str:
    _count(args, 1)
    return _strings(args)[0].upper()


def _replace(args: list[Any]) -> str:
    _count(args, 3)
    text, old, new = _strings(args)
    return text.replace(old, new)


def _split(args: list[Any]) -> list[str]:
    _count(args, 2)
    text, delimiters = args
    separators = delimiters if isinstance(delimiters, list) else [delimiters]
    parts = [_strings([text])[0]]
    for separator in _strings(separators):
        parts = [piece for part in parts for piece in part.split(separator)]
    return parts


def _substring(args: list[Any]) -> str:
    _count(args, 2, 3)
    text = _strings(args[:1])[0]
    start = _integer(args[1])
    length = _integer(args[2]) if len(args) == 3 else len(text) - start
    if start < 0 or length < 0 or start + length > len(text):
        raise FunctionError(f"start {start} and length {length} are outside {text!r}")
    return text[start : start + length]


def _first(args: list[Any]) -> Any:
    _count(args, 1)
    value = args[0]
    if not isinstance(value, str | list):
        raise FunctionError(f"expects a string or array, got {type_name(value)}")
    return value[0] if value else (None if isinstance(value, list) else "")


def _last(args: list[Any]) -> Any:
    _count(args, 1)
    value = args[0]
    if not isinstance(value, str | list):
        raise FunctionError(f"expects a string or array, got {type_name(value)}")
    return value[-1] if value else (None if isinstance(value, list) else "")


def _coalesce(args: list[Any]) -> Any:
    _count(args, 1, -1)
    return next((arg for arg in args if arg is not None), None)


def _create_array(args: list[Any]) -> list[Any]:
    return list(args)


def _create_object(args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise FunctionError("expects pairs of key and value")
    keys = _strings(args[0::2])
    return dict(zip(keys, args[1::2], strict=True))


def _base64(args: list[Any]) -> str:
    _count(args, 1)
    return base64.b64encode(_strings(args)[0].encode()).decode()


def _base64_to_string(args: list[Any]) -> str:
    _count(args, 1)
    try:
        return base64.b64decode(_strings(args)[0], validate=True).decode()
    except ValueError as error:
        raise FunctionError(f"not valid base64: {error}") from None


def _constant(value: Any) -> Function:
    def constant(args: list[Any]) -> Any:
        _count(args, 0)
        return value

    return constant


PURE_FUNCTIONS: dict[str, Function] = {
    "concat": concat,
    "format": format_,
    "guid": guid,
    "uniquestring": unique_string,
    "equals": _equals,
    "not": _not,
    "and": _and,
    "or": _or,
    "true": _constant(True),
    "false": _constant(False),
    "null": _constant(None),
    "less": _compare(lambda a, b: a < b),
    "lessorequals": _compare(lambda a, b: a <= b),
    "greater": _compare(lambda a, b: a > b),
    "greaterorequals": _compare(lambda a, b: a >= b),
    "add": _arithmetic(lambda a, b: a + b),
    "sub": _arithmetic(lambda a, b: a - b),
    "mul": _arithmetic(lambda a, b: a * b),
    "div": _arithmetic(_truncating_div, divides=True),
    "mod": _arithmetic(_truncating_mod, divides=True),
    "length": _length,
    "empty": _empty,
    "contains": _contains,
    "string": _string,
    "int": _int,
    "bool": _bool,
    "tolower": _to_lower,
    "toupper": _to_upper,
    "replace": _replace,
    "split": _split,
    "substring": _substring,
    "first": _first,
    "last": _last,
    "coalesce": _coalesce,
    "createarray": _create_array,
    "createobject": _create_object,
    "base64": _base64,
    "base64tostring": _base64_to_string,
}
