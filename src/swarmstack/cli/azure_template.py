"""`swarmstack azure template`: the cluster as an ARM template, to deploy by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..output import Output, write_output_file
from .azure_options import encryption_option
from .options import spec_from_options, spec_options
from .spec_scope import AZURE_TEMPLATE


@click.command("template")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the template to FILE instead of stdout.",
)
@encryption_option
@spec_options(AZURE_TEMPLATE)
@click.pass_obj
def template_command(
    output: Output, /, out: Path | None, encryption_at_host: bool, **options: Any
) -> None:
    """Print the cluster as an ARM template, to deploy by hand.

    \b
    The template holds the same resources `azure deploy` creates. Deploy it with:
      az group create -n GROUP -l LOCATION
      az deployment group create -g GROUP --template-file swarm.json \\
          --parameters sshPublicKey="$(cat ~/.ssh/id_ed25519.pub)"
    """
    from ..templates.azure import resolve_settings
    from ..templates.azure.arm import arm_template, to_json

    spec = spec_from_options(options)
    settings = resolve_settings(spec, encryption_at_host=encryption_at_host, require_ssh_key=False)
    text = to_json(arm_template(settings))
    if out is None:
        click.echo(text, nl=False)
        return
    write_output_file(out, text)
    output.info(f"wrote {out} ({len(text)} bytes); deploy it with:")
    output.info(f"  az deployment group create -g GROUP --template-file {out}")
