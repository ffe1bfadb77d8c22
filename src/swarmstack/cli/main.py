"""The root `swarmstack` command: global options, error handling, exit codes."""

from __future__ import annotations

import platform
import traceback
from typing import Any

import click
from click.shell_completion import get_completion_class
from rich.console import Console

from .. import __version__
from ..errors import ExitCode, SwarmstackError
from ..output import Output, OutputFormat
from . import (  # imported for their side effect: they register commands on aws_group
    aws_stack,  # noqa: F401  (launch-stack, update-stack, delete-stack, status)
    aws_template,  # noqa: F401  (template)
)
from .aws import aws_group
from .azure import azure_group
from .bootstrap import bootstrap_command
from .local import local_group
from .render import render_group
from .spec_cmd import spec_group
from .unlock import unlock_command


class RootGroup(click.Group):
    """Turns expected errors into one line each and the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SwarmstackError as exc:
            output = ctx.find_object(Output) or Output()
            if output.debug:
                traceback.print_exc()
            for line in exc.problems:
                output.error(line)
            if exc.hint:
                output.stderr.print(f"hint: {exc.hint}", markup=False)
            raise click.exceptions.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            output = ctx.find_object(Output) or Output()
            output.error("interrupted")
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-o",
    "--output",
    "output_format",
    type=click.Choice([f.value for f in OutputFormat]),
    default="text",
    show_default=True,
    help="Format of results on stdout (logs and progress always go to stderr).",
)
@click.option("-v", "--verbose", count=True, help="More log detail on stderr; repeat for more.")
@click.option("-q", "--quiet", count=True, help="Less on stderr: only warnings and errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set).")
@click.version_option(__version__, "--version", prog_name="swarmstack")
@click.pass_context
def cli(
    ctx: click.Context, output_format: str, verbose: int, quiet: int, debug: bool, no_color: bool
) -> None:
    """Hardened, highly available Docker swarms on AWS, Azure, your own hosts or this machine.

    \b
    Examples:
      swarmstack local up --managers 3 --workers 2    a real swarm on this Linux box (root)
      swarmstack aws template > swarm.json            a CloudFormation template to upload
      swarmstack aws launch-stack --name prod -f cluster.yaml
      swarmstack bootstrap -i inventory.yaml          form a swarm on hosts you already have
      swarmstack spec validate examples/cluster.yaml  check a spec, print it normalised
    """
    output = Output(
        format=OutputFormat(output_format),
        verbosity=verbose - quiet,
        debug=debug,
        color=not no_color,
    )
    output.configure_logging()
    ctx.obj = output


@cli.command("version")
@click.pass_obj
def version(output: Output) -> None:
    """Print the swarmstack version."""
    data = {"version": __version__, "python": platform.python_version()}

    def render(console: Console) -> None:
        console.print(f"swarmstack {__version__} (python {data['python']})", markup=False)

    output.emit(data, render)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  swarmstack completion bash > ~/.local/share/bash-completion/completions/swarmstack
    zsh:   swarmstack completion zsh > "${fpath[1]}/_swarmstack"
    fish:  swarmstack completion fish > ~/.config/fish/completions/swarmstack.fish
    """
    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows the three shells above
        raise click.BadParameter(f"unsupported shell {shell}")
    click.echo(completion_class(cli, {}, "swarmstack", "_SWARMSTACK_COMPLETE").source())


cli.add_command(spec_group)
cli.add_command(aws_group)
cli.add_command(azure_group)
cli.add_command(local_group)
cli.add_command(bootstrap_command)
cli.add_command(unlock_command)
cli.add_command(render_group)


def _set_output_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    output = ctx.find_object(Output)
    if value is not None and output is not None:
        output.format = OutputFormat(value)


def _accept_output_option_everywhere(group: click.Group) -> None:
    """Let `-o json` follow the subcommand too (`swarmstack spec validate F -o json`)."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_output_option_everywhere(command)
        elif not any("--output" in getattr(p, "opts", ()) for p in command.params):
            command.params.append(
                click.Option(
                    ["-o", "--output"],
                    type=click.Choice([f.value for f in OutputFormat]),
                    default=None,
                    expose_value=False,
                    callback=_set_output_format,
                    help="Format of results on stdout (same as the global -o).",
                )
            )


_accept_output_option_everywhere(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="swarmstack")
