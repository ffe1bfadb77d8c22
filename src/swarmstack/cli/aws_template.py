"""`swarmstack aws template`: the CloudFormation template, for upload by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..output import Output, OutputFormat, write_output_file
from .options import spec_from_options, spec_options
from .spec_scope import AWS_TEMPLATE


@click.command("template")
@spec_options(AWS_TEMPLATE)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the template to this file instead of stdout.",
)
@click.option(
    "--for-s3",
    is_flag=True,
    help="Write it even when over CloudFormation's inline limit for --template-body "
    "(to upload to S3 yourself; CloudFormation takes up to 1 MB there).",
)
@click.pass_obj
def template_command(output: Output, /, out: Path | None, for_s3: bool, **options: Any) -> None:
    """Print the CloudFormation template of a swarm (JSON; -o yaml for YAML).

    The spec (-f FILE, flags, SWARMSTACK_*) sets the template's parameter defaults; the
    console still lets you change them at upload. KeyName is the one parameter without a
    default unless --key-name is given. The output is deterministic (sorted keys).

    Indented JSON over CloudFormation's 51,200-byte inline limit is written minified; a
    template over the limit even then has to go through S3 (--for-s3 writes it anyway).

    \b
    Examples:
      swarmstack aws template > swarm.json
      swarmstack aws template -f cluster.yaml --ssh-cidr 203.0.113.0/24 --out swarm.json
      swarmstack aws template -o yaml --manager-size 5 --no-enable-cloudwatch-logs
    """
    # troposphere is imported by the command that renders a template, not at start-up.
    from ..templates.aws import (
        INLINE_LIMIT_BYTES,
        TemplateFormat,
        build_template,
        render_body,
        user_data_for,
    )
    from ..templates.aws.render import too_large

    spec = spec_from_options(options)
    fmt: TemplateFormat = "yaml" if output.format is OutputFormat.YAML else "json"
    rendered = render_body(build_template(spec, user_data=user_data_for(spec)), fmt)
    if not rendered.fits_s3 or (not rendered.fits_inline and not for_s3):
        raise too_large(rendered)
    if rendered.minified:
        output.info(
            f"indented JSON would be {rendered.indented_size:,} bytes, over CloudFormation's "
            f"{INLINE_LIMIT_BYTES:,}-byte inline limit: writing minified JSON "
            f"({rendered.size:,} bytes)"
        )
    if not rendered.fits_inline:
        output.warn(
            f"the template is {rendered.size:,} bytes, too large for --template-body: upload "
            "it in the console (which stores it in S3) or to your own bucket for --template-url"
        )
    if out is None:
        click.echo(rendered.body, nl=False)
    else:
        write_output_file(out, rendered.body)
        output.info(f"wrote {out} ({rendered.size:,} bytes, {fmt})")
    output.info(
        next_step(
            spec.name,
            out or Path(f"swarm.{fmt}"),
            inline=rendered.fits_inline,
            key_name=spec.key_name,
        )
    )


def next_step(name: str, file: Path, *, inline: bool, key_name: str | None) -> str:
    """What to do with the template in FILE: --template-body only when it fits that limit."""
    key = "" if key_name else " --parameters ParameterKey=KeyName,ParameterValue=<key pair>"
    stack = f"aws cloudformation create-stack --stack-name {name}"
    if inline:
        source, copy = f"--template-body file://{file}", ""
    else:
        source = f"--template-url https://<bucket>.s3.amazonaws.com/{file.name}"
        copy = f" `aws s3 cp {file} s3://<bucket>/` and then"
    return (
        f"next: upload it in the CloudFormation console, or run{copy} "
        f"`{stack} {source} --capabilities CAPABILITY_IAM{key}`"
    )
