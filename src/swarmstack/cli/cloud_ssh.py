"""--ssh-user, --ssh-key, --known-hosts and --trust-on-first-use for the cloud bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..handoff import CloudSsh, HandoffProgress
from ..output import Output
from .progress import progress_for

F = TypeVar("F", bound=Callable[..., Any])


def cloud_ssh_options(function: F) -> F:
    """The SSH choices for the bootstrap after a cloud deployment."""
    options = [
        click.option(
            "--ssh-user", default=None, help="SSH user on the nodes (default: the image's user)."
        ),
        click.option(
            "--ssh-key",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Private key for the nodes (default: the SSH agent and ~/.ssh keys).",
        ),
        click.option(
            "--known-hosts",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The cluster's known_hosts (default: ~/.config/swarmstack/NAME/known_hosts).",
        ),
        click.option(
            "--trust-on-first-use",
            is_flag=True,
            default=False,
            help="Record the keys of nodes missing from known_hosts instead of refusing them. "
            "A key that does not match is refused either way.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def cloud_ssh_from_options(options: dict[str, Any]) -> CloudSsh:
    """Take the SSH options out of a command's keyword arguments."""
    return CloudSsh(
        user=options.pop("ssh_user"),
        key=options.pop("ssh_key"),
        known_hosts=options.pop("known_hosts"),
        trust_on_first_use=options.pop("trust_on_first_use"),
    )


def handoff_progress(output: Output) -> HandoffProgress:
    """The hand-off's notes and warnings on stderr, its steps as the bootstrap shows them."""
    return HandoffProgress(info=output.info, warn=output.warn, steps=progress_for(output))
