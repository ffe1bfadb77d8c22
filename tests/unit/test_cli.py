"""The root command: groups, output formats, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from swarmstack import __version__
from swarmstack.cli.main import RootGroup, cli
from swarmstack.errors import ExitCode, StackNotFound

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cluster.yaml"


def test_help_lists_the_groups_and_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == ExitCode.OK
    for name in ("aws", "azure", "local", "bootstrap", "render", "spec", "version", "completion"):
        assert f"\n  {name} " in result.stdout


def test_example_spec_validates_and_prints_normalised_json_with_o_after_the_command() -> None:
    result = CliRunner().invoke(cli, ["spec", "validate", str(EXAMPLE), "-o", "json"])
    assert result.exit_code == ExitCode.OK, result.stderr
    spec = json.loads(result.stdout)
    assert spec["name"] == "prod"
    assert spec["manager_size"] == 3
    assert spec["ssh_public_key"] is None  # defaults are filled in


def test_yaml_output_round_trips() -> None:
    result = CliRunner().invoke(cli, ["-o", "yaml", "spec", "validate", str(EXAMPLE)])
    assert result.exit_code == ExitCode.OK
    assert yaml.safe_load(result.stdout)["default_addr_pool"] == ["10.128.0.0/12"]


def test_version_as_json() -> None:
    result = CliRunner().invoke(cli, ["version", "-o", "json"])
    assert json.loads(result.stdout)["version"] == __version__


def test_completion_script_for_bash() -> None:
    result = CliRunner().invoke(cli, ["completion", "bash"])
    assert result.exit_code == ExitCode.OK
    assert "_SWARMSTACK_COMPLETE" in result.stdout


def test_unknown_option_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["spec", "validate", str(EXAMPLE), "--manager-count", "3"])
    assert result.exit_code == ExitCode.USAGE
    assert "No such option" in result.stderr


def _root_with(failure: BaseException) -> click.Group:
    @click.group(cls=RootGroup)
    def root() -> None:
        pass

    @root.command()
    def boom() -> None:
        raise failure

    return root


def test_operation_failure_is_one_line_with_hint_and_exit_1() -> None:
    failure = StackNotFound("stack prod: does not exist", hint="list stacks with: aws status")
    result = CliRunner().invoke(_root_with(failure), ["boom"])
    assert result.exit_code == ExitCode.FAILED
    assert result.stderr.splitlines() == [
        "error: stack prod: does not exist",
        "hint: list stacks with: aws status",
    ]


def test_interrupt_exits_130() -> None:
    result = CliRunner().invoke(_root_with(KeyboardInterrupt()), ["boom"])
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "interrupted" in result.stderr
