"""One spec everywhere: every command takes the same flags, and refuses those it cannot honour.

A refused flag is one line that says why, exit 2, before anything runs; the same parameter in
a spec file or a SWARMSTACK_* variable is fine (one file serves every command).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swarmstack.cli import spec_scope
from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode
from swarmstack.spec import SPEC_FIELDS
from swarmstack.specload import flag_name

EXAMPLE = Path(__file__).parents[2] / "examples" / "cluster.yaml"
# Values each parameter accepts, so a refusal is never a validation error in disguise.
VALID = {
    "name": "prod", "manager_size": "3", "cluster_size": "2", "instance_type": "m7i.large",
    "manager_instance_type": "t3.medium", "manager_disk_size": "30", "worker_disk_size": "30",
    "manager_disk_type": "gp3", "worker_disk_type": "gp3", "log_retention_days": "30",
    "key_name": "ops", "ssh_public_key": "ssh-ed25519 AAAAC3Nza ops", "ssh_cidr": "10.9.0.0/16",
    "docker_version": "28.5", "default_addr_pool": "198.19.0.0/18",
    "default_addr_pool_mask_length": "24", "data_path_port": "4790", "cert_expiry_hours": "100",
    "region": "eu-west-1", "zones": "eu-west-1a,eu-west-1b", "vpc_cidr": "172.30.0.0/16",
    "existing_vpc_id": "vpc-0123abcd", "existing_subnet_ids": "subnet-0123abcd",
    "published_ports": "80", "tags": "team=platform",
}  # fmt: skip
BOOLS = {"enable_system_prune", "enable_cloudwatch_logs", "autolock", "managers_accept_workloads"}

# Every command that takes the spec flags, with the arguments it needs besides them.
COMMANDS: dict[str, tuple[list[str], spec_scope.SpecScope]] = {
    "bootstrap": (["bootstrap", "-i", "inventory.yaml"], spec_scope.BOOTSTRAP),
    "render cloudinit": (["render", "cloudinit"], spec_scope.RENDER_CLOUDINIT),
    "aws template": (["aws", "template"], spec_scope.AWS_TEMPLATE),
    "aws launch-stack": (["aws", "launch-stack"], spec_scope.AWS_STACK),
    "aws update-stack": (["aws", "update-stack"], spec_scope.AWS_STACK),
    "azure template": (["azure", "template"], spec_scope.AZURE_TEMPLATE),
    "azure deploy": (["azure", "deploy", "-g", "rg"], spec_scope.AZURE_DEPLOY),
    "local up": (["local", "up"], spec_scope.LOCAL_UP),
    "spec validate": (["spec", "validate", str(EXAMPLE)], spec_scope.EVERYTHING),
}


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


def _flag_args(field: str) -> list[str]:
    return [flag_name(field)] if field in BOOLS else [flag_name(field), VALID[field]]


def test_bootstrap_refuses_a_manager_size_in_one_line() -> None:
    result = run("bootstrap", "-i", "inv.yaml", "--manager-size", "7")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "error: --manager-size=7: not used by `bootstrap`: "
        "roles and sizes come from the inventory (-i)"
    ]


def test_render_cloudinit_honours_only_what_changes_the_host_tuning() -> None:
    honoured = set(SPEC_FIELDS) - set(spec_scope.RENDER_CLOUDINIT.refused)
    assert honoured == {
        "docker_version", "enable_system_prune", "enable_cloudwatch_logs", "default_addr_pool",
        "vpc_cidr", "ssh_public_key",
    }  # fmt: skip
    result = run("render", "cloudinit", "--tags", "team=platform")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "error: --tags=team=platform: not used by `render cloudinit`: "
        "it changes the cloud resources, not the host tuning"
    ]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_refused_flag_is_one_line_with_exit_2(command: str) -> None:
    args, scope = COMMANDS[command]
    for field in scope.refused:
        result = run(*args, *_flag_args(field))
        assert result.exit_code == ExitCode.USAGE, (command, field, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (command, field, lines)
        assert lines[0].startswith(f"error: {flag_name(field)}="), lines
        assert "not used by" in lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_lists_exactly_the_flags_the_command_honours(command: str) -> None:
    args, scope = COMMANDS[command]
    path = [a for a in args if not a.startswith("-") and a not in ("rg", "inventory.yaml")]
    helptext = run(*[a for a in path if a != str(EXAMPLE)], "--help").stdout
    for field in SPEC_FIELDS:
        shown = scope.renamed.get(field, flag_name(field))
        if field in scope.refused:
            assert f"{flag_name(field)} " not in helptext, (command, field)
        else:
            assert shown in helptext, (command, field)


def test_a_shared_spec_file_and_variables_may_hold_what_a_command_ignores(
    tmp_path: Path,
) -> None:
    """examples/cluster.yaml (sizes, instance types, tags) still serves render cloudinit."""
    result = run(
        "render", "cloudinit", "--form", "script", "-f", str(EXAMPLE),
        env={"SWARMSTACK_MANAGER_SIZE": "5"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("#!")


def test_local_up_spells_the_sizes_its_own_way() -> None:
    result = run("local", "up", "--manager-size", "1")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "error: --manager-size=1: this command calls it --managers; use --managers 1"
    ]
    bad = run("local", "up", "--managers", "2")
    assert bad.exit_code == ExitCode.USAGE
    assert bad.stderr.splitlines()[0].startswith("error: --managers=2: must be 1, 3, 5 or 7")
