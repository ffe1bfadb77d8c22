"""Options shared by several commands: the cluster spec flags and confirmation."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import ConfirmationRequired, UsageError
from ..output import Output
from ..spec import ClusterSpec
from ..specload import env_name, flag_name, load_spec
from .spec_scope import SpecScope

F = TypeVar("F", bound=Callable[..., Any])

_BOOL_FIELDS = {
    name
    for name, info in ClusterSpec.model_fields.items()
    if info.annotation is bool or str(info.annotation) == "bool"
}


def spec_options(scope: SpecScope) -> Callable[[F], F]:
    """Add `-f/--file` and one flag per spec parameter (values are validated by the spec).

    Flags of parameters the command cannot honour (``scope.refused``) are hidden and refused
    with the reason; a renamed parameter gets the command's own flag name.
    """

    def decorate(function: F) -> F:
        for name, info in reversed(ClusterSpec.model_fields.items()):
            usual = flag_name(name)
            if name in scope.refused:
                function = _refused_option(name, usual, scope.refused[name])(function)
                continue
            own = scope.renamed.get(name, usual)
            if own != usual:
                reason = f"this command calls it {own}"
                function = _refused_option(name, usual, reason, rename=own)(function)
            help_text = f"{info.description} [env {env_name(name)}]"
            if name in _BOOL_FIELDS:
                decl = f"{own}/--no-{own[2:]}"
                function = click.option(decl, name, default=None, help=help_text)(function)
            else:
                function = click.option(own, name, default=None, metavar="VALUE", help=help_text)(
                    function
                )
        return spec_file_option(
            "Cluster spec YAML (see examples/cluster.yaml). Flags and SWARMSTACK_* win over it."
        )(function)

    return decorate


def _refused_option(
    name: str, flag: str, reason: str, rename: str | None = None
) -> Callable[[F], F]:
    """A hidden flag that fails in one line, before anything runs, when it is given."""

    def refuse(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        shown = ("true" if value else "false") if isinstance(value, bool) else value
        if rename is not None:
            raise UsageError(f"{flag}={shown}: {reason}; use {rename} {shown}")
        command = " ".join(ctx.command_path.split()[1:]) or ctx.command_path
        raise UsageError(f"{flag}={shown}: not used by `{command}`: {reason}")

    decl = f"{flag}/--no-{flag[2:]}" if name in _BOOL_FIELDS else flag
    return click.option(
        decl,
        f"refused_{name}",
        default=None,
        hidden=True,
        expose_value=False,
        callback=refuse,
    )


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


def spec_from_options(
    options: dict[str, Any],
    defaults: Mapping[str, Any] | None = None,
    scope: SpecScope | None = None,
) -> ClusterSpec:
    """Build the spec from a command's keyword arguments; removes the spec keys from them.

    ``defaults`` are the command's own defaults, below the file (e.g. `local up`'s name);
    ``scope`` names the flags the command spells its own way, for the error lines.
    """
    spec_file = options.pop("spec_file", None)
    flags = {name: options.pop(name) for name in ClusterSpec.model_fields if name in options}
    labels = scope.renamed if scope is not None else None
    return load_spec(spec_file, flags, os.environ, defaults=defaults, flag_labels=labels)


def load_named_spec(
    spec_file: Path | None, flags: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> ClusterSpec:
    """The spec of a command that only needs to name the cluster (status, delete, down)."""
    return load_spec(spec_file, flags, os.environ, defaults=defaults)


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


def inventory_option(help_text: str) -> Callable[[F], F]:
    """-i/--inventory: the inventory YAML of the hosts a command works on."""
    return click.option(
        "-i",
        "--inventory",
        "inventory_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help_text,
    )


def connect_window_option(function: F) -> F:
    """--connect-window: how long SSH connections are retried while hosts boot."""
    return click.option(
        "--connect-window",
        type=click.FloatRange(0, 3600),
        default=None,
        metavar="SECONDS",
        help="How long to retry SSH connections while hosts boot "
        "[default: ssh.connect_window, 120].",
    )(function)
