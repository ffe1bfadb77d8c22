"""The root `swarmstack` command: global options, error handling, exit codes."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..errors import ExitCode, SwarmstackError

if TYPE_CHECKING:
    from rich.console import Console

    from ..output import Output

# The values of swarmstack.output.OutputFormat (a unit test keeps them equal): spelt here so
# that `--help` and `--version` need not import the output module (rich, yaml).
OUTPUT_FORMATS = ("text", "json", "yaml")

# The subcommands, loaded when used: `--help` and `--version` import none of them, and each
# command imports the SDK it needs (boto3, azure, troposphere, paramiko) only when it runs.
# name -> (module in this package, attribute, short help for the root --help); a unit test
# keeps each short help equal to the command's own.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "aws": (
        "aws",
        "aws_group",
        "Docker swarm on AWS with CloudFormation (template, launch-stack, status, ...).",
    ),
    "azure": (
        "azure",
        "azure_group",
        "Docker swarm on Azure with scale sets (deploy, template, status, destroy).",
    ),
    "bootstrap": (
        "bootstrap",
        "bootstrap_command",
        "Form (or converge) a swarm over SSH on the hosts of an inventory file.",
    ),
    "local": (
        "local",
        "local_group",
        "Real Debian machines on this box (systemd-nspawn) forming a real swarm; needs root.",
    ),
    "render": (
        "render",
        "render_group",
        "Render artefacts (cloud-init user data, ...) to stdout for review.",
    ),
    "spec": ("spec_cmd", "spec_group", "Validate cluster specs."),
    "unlock": (
        "unlock",
        "unlock_command",
        "Unlock every locked manager of an autolocked swarm (after docker restarted on it).",
    ),
}


class RootGroup(click.Group):
    """Loads subcommands when used; turns expected errors into one line each and the right
    exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            module, attribute, _ = SUBCOMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
            _accept_output_option_everywhere(command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table above, so `--help` loads no subcommand."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                placeholder = click.Command(name, help=SUBCOMMANDS[name][2])
                rows.append((name, placeholder.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from ..output import Output  # rich and yaml: loaded by commands, not by --help

        try:
            return super().invoke(ctx)
        except SwarmstackError as exc:
            output = ctx.find_object(Output) or Output()
            if output.debug:
                import traceback

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
    type=click.Choice(OUTPUT_FORMATS),
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
    from ..output import Output, OutputFormat

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
    import platform

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
    from click.shell_completion import get_completion_class

    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows the three shells above
        raise click.BadParameter(f"unsupported shell {shell}")
    click.echo(completion_class(cli, {}, "swarmstack", "_SWARMSTACK_COMPLETE").source())


def _set_output_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    from ..output import Output, OutputFormat

    output = ctx.find_object(Output)
    if value is not None and output is not None:
        output.format = OutputFormat(value)


def _accept_output_option_everywhere(command: click.Command) -> None:
    """Let `-o json` follow the subcommand too (`swarmstack spec validate F -o json`)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_output_option_everywhere(sub)
    elif not any("--output" in getattr(p, "opts", ()) for p in command.params):
        command.params.append(
            click.Option(
                ["-o", "--output"],
                type=click.Choice(OUTPUT_FORMATS),
                default=None,
                expose_value=False,
                callback=_set_output_format,
                help="Format of results on stdout (same as the global -o).",
            )
        )


for _command in (version, completion):
    _accept_output_option_everywhere(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="swarmstack")
