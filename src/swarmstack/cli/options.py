"""Options shared by several commands: the cluster spec flags and confirmation."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import ConfirmationRequired
from ..output import Output
from ..spec import ClusterSpec
from ..specload import env_name, flag_name, load_spec

F = TypeVar("F", bound=Callable[..., Any])

_BOOL_FIELDS = {
    name
    for name, info in ClusterSpec.model_fields.items()
    if info.annotation is bool or str(info.annotation) == "bool"
}


def spec_options(function: F) -> F:
    """Add `-f/--file` and one flag per spec parameter (values are validated by the spec)."""
    for name, info in reversed(ClusterSpec.model_fields.items()):
        help_text = f"{info.description} [env {env_name(name)}]"
        if name in _BOOL_FIELDS:
            negative = "--no-" + name.replace("_", "-")
            decl = f"{flag_name(name)}/{negative}"
            function = click.option(decl, name, default=None, help=help_text, show_default=False)(
                function
            )
        else:
            function = click.option(
                flag_name(name), name, default=None, metavar="VALUE", help=help_text
            )(function)
    return spec_file_option(
        "Cluster spec YAML (see examples/cluster.yaml). Flags and SWARMSTACK_* win over it."
    )(function)


def spec_file_option(help_text: str) -> Callable[[F], F]:
    """`-f/--file`: the cluster spec YAML, passed to the command as ``spec_file``."""
    return click.option(
        "-f",
        "--file",
        "spec_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=help_text,
    )


def spec_from_options(options: dict[str, Any]) -> ClusterSpec:
    """Build the spec from a command's keyword arguments; removes the spec keys from them."""
    spec_file = options.pop("spec_file", None)
    flags = {name: options.pop(name) for name in ClusterSpec.model_fields if name in options}
    return load_spec(spec_file, flags, os.environ)


def yes_option(function: F) -> F:
    return click.option(
        "-y", "--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal)."
    )(function)


def confirm(output: Output, question: str, yes: bool) -> bool:
    """Ask before changing anything; refuse rather than hang when there is no terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfirmationRequired(
            f"{question.rstrip('?')}: needs confirmation, and stdin is not a terminal",
            hint="re-run with --yes to proceed without a prompt",
        )
    return click.confirm(question, default=False, err=True)
