"""`swarmstack spec`: check a cluster spec and show it with every default filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console

from ..output import Output
from .options import spec_from_options, spec_options
from .spec_scope import EVERYTHING


@click.group("spec")
def spec_group() -> None:
    """Validate cluster specs."""


@spec_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@spec_options(EVERYTHING)
@click.pass_obj
def validate(output: Output, /, file: Path, **options: Any) -> None:
    """Validate FILE and print the normalised spec (defaults filled in).

    Flags and SWARMSTACK_* variables override the file, as in every other command.
    Every problem is reported at once, one line each; the exit code is 2 when any is found.
    """
    options["spec_file"] = file
    spec = spec_from_options(options)
    data = spec.model_dump(mode="json")

    def render(console: Console) -> None:
        console.print(yaml.safe_dump(data, sort_keys=False).rstrip(), markup=False)

    output.emit(data, render)
