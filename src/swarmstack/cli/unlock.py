"""`swarmstack unlock`: unlock the autolocked managers of a swarm with the saved key."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError
from rich.console import Console

from ..errors import UsageError
from ..output import Output
from ..provisioners.inventory import load_inventory
from ..provisioners.unlockkey import default_unlock_key_file, read_unlock_key
from ..spec import ClusterSpec
from .options import connect_window_option, inventory_option
from .progress import progress_for


@click.command("unlock")
@inventory_option("Inventory YAML of the swarm (its managers are unlocked).")
@click.option(
    "--name",
    default=None,
    help="Cluster name: finds the key in ~/.config/swarmstack/NAME/unlock-key [default: swarm].",
)
@click.option(
    "--unlock-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The file bootstrap saved the unlock key in (overrides --name).",
)
@connect_window_option
@click.pass_obj
def unlock_command(
    output: Output,
    /,
    inventory_path: Path,
    name: str | None,
    unlock_key_file: Path | None,
    connect_window: float | None,
) -> None:
    """Unlock every locked manager of an autolocked swarm (after docker restarted on it).

    The key goes to each manager on the SSH channel's stdin: it is never on a command line,
    in a log or in the output. Managers that are not locked are left alone.

    \b
    Examples:
      swarmstack unlock -i inventory.yaml --name prod
      swarmstack unlock -i inventory.yaml --unlock-key-file ./prod.unlock-key
    """
    if unlock_key_file is None:
        try:
            spec = ClusterSpec.model_validate({"name": name} if name is not None else {})
        except ValidationError:
            raise UsageError(
                f"--name {name!r}: must be 1-32 characters of lowercase letters, digits and "
                "hyphens, starting with a letter and not ending with a hyphen"
            ) from None
        unlock_key_file = default_unlock_key_file(spec.name)
    from ..provisioners.bootstrap import unlock  # paramiko: loaded when the command runs

    key = read_unlock_key(unlock_key_file)
    inventory = load_inventory(inventory_path)
    result = unlock(inventory, key, progress=progress_for(output), connect_window=connect_window)

    def render(console: Console) -> None:
        if result.unlocked:
            console.print(f"unlocked: {', '.join(result.unlocked)}", markup=False)
        else:
            console.print("no manager was locked", markup=False)

    output.emit(result.to_dict(), render)
