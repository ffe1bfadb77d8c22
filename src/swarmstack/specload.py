"""Load a ClusterSpec from a YAML file, SWARMSTACK_* environment variables and CLI flags.

Precedence: flag > environment > file > default. Every invalid value is reported at once, one
line each, naming the parameter the way the user wrote it (``--manager-size``,
``SWARMSTACK_MANAGER_SIZE`` or the file's ``manager_size``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .envvars import NOT_SPEC_PARAMETERS
from .errors import SpecError, SpecFileError, as_written, shown
from .spec import SPEC_FIELDS, ClusterSpec, CombinationError
from .yamlfile import load_yaml_file

ENV_PREFIX = "SWARMSTACK_"
MAX_LIST_SHOWN = 10


@dataclass(frozen=True)
class Source:
    """Where one parameter's value came from, to name it as the user wrote it."""

    kind: str  # "flag", "env", "file" or "default"
    label: str


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def read_spec_file(path: Path) -> dict[str, Any]:
    """Parse a spec file; unknown keys are errors so typos never pass silently."""
    data = load_yaml_file(path, SpecFileError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecFileError(
            f"{path}: must be a mapping of parameters (key: value), not {type(data).__name__}"
        )
    unknown = [key for key in data if key not in SPEC_FIELDS]
    if unknown:
        raise SpecError([f"{path}: {_unknown_key_message(_show(key))}" for key in unknown])
    return data


def _unknown_variable_message(name: str) -> str:
    known = [env_name(field) for field in SPEC_FIELDS] + sorted(NOT_SPEC_PARAMETERS)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{as_written(name)}: unknown environment variable{hint}"


def _unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, SPEC_FIELDS, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{key}: unknown parameter{hint}"


def environment_values(environ: Mapping[str, str]) -> dict[str, str]:
    """SWARMSTACK_<FIELD> variables; empty values count as unset, unknown names are errors."""
    unknown = sorted(
        name
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
        and value
        and name not in NOT_SPEC_PARAMETERS
        and name.removeprefix(ENV_PREFIX).lower() not in SPEC_FIELDS
    )
    if unknown:
        raise SpecError([_unknown_variable_message(name) for name in unknown])
    return {
        field: environ[env_name(field)] for field in SPEC_FIELDS if environ.get(env_name(field))
    }


def load_spec(
    file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
    flag_labels: Mapping[str, str] | None = None,
) -> ClusterSpec:
    """Merge the sources (flag > env > file > default) and validate the result.

    ``flags`` maps field names to values the user gave on the command line; None means the
    flag was not given. ``defaults`` replace the spec's own defaults (a command's defaults,
    like `local up`'s cluster name); ``flag_labels`` name flags a command spells its own way
    (`--managers` for manager_size). Raises SpecError with one line per problem.
    """
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    layers: list[tuple[str, Mapping[str, Any], Any]] = [
        ("default", defaults or {}, lambda f: f),
        ("file", read_spec_file(file) if file else {}, lambda f: f),
        ("env", environment_values(environ or {}), env_name),
        (
            "flag",
            {k: v for k, v in (flags or {}).items() if v is not None},
            lambda f: (flag_labels or {}).get(f) or flag_name(f),
        ),
    ]
    for kind, layer, label in layers:
        for field, value in layer.items():
            if field not in SPEC_FIELDS:
                raise ValueError(f"not a spec field: {field}")  # a programming error
            values[field] = value
            sources[field] = Source(kind, label(field))
    try:
        return ClusterSpec.model_validate(values)
    except ValidationError as exc:
        raise SpecError(_problems(exc, values, sources)) from None


def _problems(
    exc: ValidationError, values: Mapping[str, Any], sources: Mapping[str, Source]
) -> list[str]:
    lines: list[str] = []
    for error in exc.errors():
        loc = error["loc"]
        ctx_error = (error.get("ctx") or {}).get("error")
        if isinstance(ctx_error, CombinationError):
            for field, default_value, message in ctx_error.problems:
                lines.append(_line(field, values.get(field, default_value), message, sources))
            continue
        field = str(loc[0]) if loc else "spec"
        value = values.get(field, error.get("input"))
        lines.append(_line(field, value, _message(error, ctx_error), sources))
    return lines


def _message(error: Any, ctx_error: object) -> str:
    if ctx_error is not None:
        return str(ctx_error)
    kind = error["type"]
    friendly = {
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "int_type": "must be a whole number",
        "bool_parsing": "must be true or false (yes/no)",
        "bool_type": "must be true or false (yes/no)",
        "string_type": "must be text",
        "list_type": "must be a list",
        "dict_type": "must be a mapping of key: value",
    }
    if kind in friendly:
        return friendly[kind]
    if len(error["loc"]) > 1:  # an item inside a list or mapping
        return f"item {error['loc'][1]!r}: {error['msg'].lower()}"
    return str(error["msg"]).lower()


def _line(field: str, value: Any, message: str, sources: Mapping[str, Source]) -> str:
    label = sources[field].label if field in sources else field
    return f"{label}={_show(value)}: {message}"


def _show(value: Any) -> str:
    """The value as the user would write it; anything odd or long is escaped and shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list) and all(_is_scalar(v) for v in value[:MAX_LIST_SHOWN]):
        text = ",".join(_show(v) for v in value[:MAX_LIST_SHOWN])
        return text + ",..." if len(value) > MAX_LIST_SHOWN else text
    if isinstance(value, str) and value == "":
        return "''"
    if isinstance(value, str):
        return as_written(value)
    if isinstance(value, int | float):
        return str(value)
    return shown(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)
