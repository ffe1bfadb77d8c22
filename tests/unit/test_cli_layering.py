"""The CLI sits on top: nothing below it imports it, and it starts without the heavy SDKs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import swarmstack
from swarmstack.cli.main import OUTPUT_FORMATS, SUBCOMMANDS, cli
from swarmstack.output import OutputFormat

PACKAGE = Path(swarmstack.__file__).parent
HEAVY = ("boto3", "botocore", "azure", "troposphere", "paramiko")


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of everything a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _package_modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules.append((name, path))
    return modules


def test_the_module_walk_sees_the_whole_package() -> None:
    names = {name for name, _ in _package_modules()}
    assert {"swarmstack.cli.main", "swarmstack.aws.stack_flow", "swarmstack.handoff"} <= names
    assert "swarmstack.provisioners.bootstrap" in names  # the mapped top-level folders too


def test_the_resolver_sees_a_relative_import_of_the_cli() -> None:
    """A guard for the test below: it must catch the import it exists to catch."""
    assert "swarmstack.cli.options" in _imported_modules(
        PACKAGE / "cli" / "aws_template.py", "swarmstack.cli"
    )


def test_no_module_outside_the_cli_imports_it() -> None:
    offenders = []
    for name, path in _package_modules():
        if name == "swarmstack.cli" or name.startswith("swarmstack.cli."):
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in _imported_modules(path, package):
            if imported == "swarmstack.cli" or imported.startswith("swarmstack.cli."):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def _modules_after(*args: str) -> set[str]:
    """Run the CLI in a fresh interpreter and list the top-level modules it imported."""
    script = (
        "import json, sys\n"
        "from swarmstack.cli.main import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, prog_name='swarmstack')\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_import_no_sdk(args: tuple[str, ...]) -> None:
    loaded = _modules_after(*args)
    assert "click" in loaded  # the probe does see what was imported
    assert sorted(loaded.intersection(HEAVY)) == []


# `bootstrap` is the SSH command itself: its option defaults come from the paramiko-based
# bootstrap module, so its own --help may load paramiko (and nothing else heavy).
OWN_SDK = {"bootstrap": {"paramiko"}}


@pytest.mark.parametrize("group", sorted(SUBCOMMANDS))
def test_each_commands_help_imports_no_sdk(group: str) -> None:
    """--help of every group loads its command modules: none may import an SDK at the top."""
    heavy = set(HEAVY) - OWN_SDK.get(group, set())
    assert sorted(_modules_after(group, "--help").intersection(heavy)) == []


def test_the_aws_template_needs_troposphere_only() -> None:
    loaded = _modules_after("aws", "template", "--out", "/dev/null")
    assert "troposphere" in loaded
    assert sorted(loaded.intersection({"boto3", "botocore", "azure", "paramiko"})) == []


def test_the_root_help_lists_each_commands_own_short_help() -> None:
    """The root --help takes its lines from SUBCOMMANDS; they must match the commands."""
    context = click.Context(cli)
    for name, (_, _, short_help) in SUBCOMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None
        assert command.get_short_help_str(limit=200) == short_help, name
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Validate cluster specs." in result.stdout


def test_the_root_spells_the_output_formats_as_the_output_module_does() -> None:
    assert tuple(f.value for f in OutputFormat) == OUTPUT_FORMATS
