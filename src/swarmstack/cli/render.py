"""`swarmstack render`: show what swarmstack would hand to hosts, without touching anything."""

from __future__ import annotations

import base64
import sys
from typing import Any, cast

import click
from rich.console import Console

from ..cloudinit import USER_DATA_LIMITS, encode_user_data, render_user_data, tuning_script
from ..errors import UsageError
from ..output import Output
from ..spec import Cloud, Role
from .options import spec_from_options, spec_options
from .spec_scope import RENDER_CLOUDINIT


@click.group("render")
def render_group() -> None:
    """Render artefacts (cloud-init user data, ...) to stdout for review."""


@render_group.command("cloudinit")
@click.option(
    "--role",
    type=click.Choice(["manager", "worker"]),
    default="manager",
    show_default=True,
    help="The swarm role of the hosts.",
)
@click.option(
    "--cloud",
    type=click.Choice(["aws", "azure", "generic"]),
    default="generic",
    show_default=True,
    help="Where the hosts run: decides the log driver and how the data disk is found.",
)
@click.option(
    "--form",
    type=click.Choice(["user-data", "script"]),
    default="user-data",
    show_default=True,
    help="user-data: #cloud-config for first boot; script: the bash script the SSH "
    "bootstrap runs on hosts without user data.",
)
@click.option(
    "--local-machine",
    is_flag=True,
    help="Script for the local machines: only net.* sysctls (they share this kernel).",
)
@click.option(
    "--base64",
    "as_base64",
    is_flag=True,
    help="User data exactly as the cloud receives it: base64, gzip-compressed when over "
    "the cloud's limit (16 KB EC2, 48 KB Azure: 64 KiB as base64).",
)
@spec_options(RENDER_CLOUDINIT)
@click.pass_obj
def render_cloudinit(output: Output, /, **options: Any) -> None:
    """Print the host tuning for one role: cloud-init user data or the SSH script.

    Nothing here is secret: swarm join tokens never appear in user data or the script.

    \b
    Examples:
      swarmstack render cloudinit --role worker --cloud aws -f cluster.yaml
      swarmstack render cloudinit --cloud aws --base64 | base64 -d | zcat -f
      swarmstack render cloudinit --form script --local-machine --default-addr-pool 198.19.0.0/18
    """
    role = cast(Role, options.pop("role"))
    cloud = cast(Cloud, options.pop("cloud"))
    form = options.pop("form")
    local_machine = options.pop("local_machine")
    as_base64 = options.pop("as_base64")
    spec = spec_from_options(options)

    if form == "script":
        if as_base64:
            raise UsageError("--base64: applies to --form user-data only")
        if cloud != "generic":
            raise UsageError(
                f"--cloud={cloud}: the script is the same on every cloud; leave --cloud out"
            )
        text = tuning_script(spec, role, local_machine=local_machine)
        result: dict[str, Any] = {"form": form, "role": role, "local_machine": local_machine}
    else:
        if local_machine:
            raise UsageError("--local-machine: applies to --form script only")
        text = render_user_data(spec, role, cloud)
        encoded = encode_user_data(text, cloud)
        limit = USER_DATA_LIMITS[cloud]
        gzipped = encoded != text.encode()
        output.info(
            f"user data: {len(text.encode())} bytes"
            + (f", {len(encoded)} gzip-compressed" if gzipped else "")
            + (f" (limit {limit})" if limit else "")
        )
        result = {"form": form, "role": role, "cloud": cloud, "gzip": gzipped}
        if as_base64:
            text = base64.b64encode(encoded).decode("ascii") + "\n"
    result["content"] = text

    def render(_console: Console) -> None:
        sys.stdout.write(text)  # verbatim: no markup, no wrapping

    output.emit(result, render)
