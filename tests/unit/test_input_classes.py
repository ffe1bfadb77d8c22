"""Classes of bad input, checked over every member so a new field or pattern is covered too.

- every validation pattern is used with full-match semantics (a `$` also matches before a
  trailing newline);
- every text field of the spec and the inventory refuses "valid\\n" or normalises it;
- every default the AWS template writes passes the template's own constraints;
- every SWARMSTACK_* variable the code reads is a spec parameter or listed as a known other;
- the same situation on two clouds gives the same exit code.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
from click.testing import CliRunner

import swarmstack
from swarmstack.cli.main import cli
from swarmstack.envvars import NOT_SPEC_PARAMETERS
from swarmstack.errors import (
    AzureClusterNotFound,
    ExitCode,
    InventoryError,
    SpecError,
    StackNotFound,
)
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.spec import SPEC_FIELDS, ClusterSpec
from swarmstack.specload import env_name, load_spec
from swarmstack.templates.aws.parameters import parameter_specs

REPOSITORY = Path(__file__).resolve().parents[2]


def all_modules() -> list[ModuleType]:
    names = [
        info.name
        for info in pkgutil.walk_packages(swarmstack.__path__, "swarmstack.")
        if not info.name.endswith("__main__")
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def prefix_matches(module: ModuleType) -> list[str]:
    """`PATTERN.match(...)`/`.search(...)` on a `$`-anchored pattern: a trailing newline passes."""
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("match", "search")
        ):
            continue
        target = node.func.value
        if isinstance(target, ast.Name):
            pattern = getattr(module, target.id, None)
            if isinstance(pattern, re.Pattern) and "$" in pattern.pattern:
                found.append(f"{module.__name__}:{node.lineno} {target.id}.{node.func.attr}")
        if isinstance(target, ast.Name) and target.id == "re" and node.args:
            literal = node.args[0]
            if isinstance(literal, ast.Constant) and "$" in str(literal.value):
                found.append(f"{module.__name__}:{node.lineno} re.{node.func.attr}")
    return found


def test_every_anchored_pattern_is_used_with_fullmatch() -> None:
    modules = all_modules()
    assert len(modules) > 50  # the walk really covers the package
    offenders = [line for module in modules for line in prefix_matches(module)]
    assert offenders == [], "use .fullmatch(): `$` also matches before a trailing newline"


def test_the_scan_would_catch_a_prefix_match(tmp_path: Path) -> None:
    module = ModuleType("probe")
    module.__file__ = str(tmp_path / "probe.py")
    Path(module.__file__).write_text("NAME.match(value)\nre.search(r'^a$', value)\n")
    module.NAME = re.compile(r"^[a-z]+$")  # type: ignore[attr-defined]
    assert prefix_matches(module) == ["probe:1 NAME.match", "probe:2 re.search"]


# A valid value for every text field; a new text field fails the test below until it has one.
VALID_TEXT: dict[str, Any] = {
    "name": "prod",
    "instance_type": "t3.medium",
    "manager_instance_type": "Standard_D2s_v5",
    "manager_disk_type": "gp3",
    "worker_disk_type": "Premium_LRS",
    "key_name": "ops",
    "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9z ops@laptop",
    "ssh_cidr": "203.0.113.0/24",
    "docker_version": "28.5",
    "default_addr_pool": ["10.20.0.0/16"],
    "region": "eu-west-1",
    "zones": ["eu-west-1a", "eu-west-1b"],
    "vpc_cidr": "172.30.0.0/16",
    "existing_vpc_id": "vpc-0123abcd",
    "existing_subnet_ids": ["subnet-0123abcd"],
    "tags": {"team": "platform"},
}
NOT_TEXT = {
    "manager_size", "cluster_size", "manager_disk_size", "worker_disk_size",
    "enable_system_prune", "enable_cloudwatch_logs", "log_retention_days",
    "default_addr_pool_mask_length", "data_path_port", "autolock", "cert_expiry_hours",
    "managers_accept_workloads", "published_ports",
}  # fmt: skip


def test_every_spec_field_is_classified() -> None:
    assert set(SPEC_FIELDS) == set(VALID_TEXT) | NOT_TEXT


def with_newline(value: Any) -> Any:
    if isinstance(value, list):
        return [value[0] + "\n", *value[1:]]
    if isinstance(value, dict):
        return {key: text + "\n" for key, text in value.items()}
    return value + "\n"


@pytest.mark.parametrize("field", sorted(VALID_TEXT))
def test_a_trailing_newline_is_refused_or_normalised(field: str) -> None:
    base = {"existing_vpc_id": "vpc-0123abcd", "existing_subnet_ids": ["subnet-0123abcd"]}
    good = load_spec(flags={**base, field: VALID_TEXT[field]})
    problems: tuple[str, ...] = ()
    try:
        spec = load_spec(flags={**base, field: with_newline(VALID_TEXT[field])})
    except SpecError as exc:
        problems = exc.problems
    if problems:
        assert any(line.startswith(f"--{field.replace('_', '-')}=") for line in problems)
        assert all("\n" not in line for line in problems)  # shown escaped, on one line
    else:  # the loader strips comma-separated items: the newline never reaches a host
        assert getattr(spec, field) == getattr(good, field)


HOST = {"address": "198.18.0.11", "role": "manager"}
INVENTORY_TEXT = [
    ({"ssh": {"user": "ops\n"}, "hosts": [HOST]}, "ssh.user"),
    ({"ssh": {"bastion": {"address": "b.example\n"}}, "hosts": [HOST]}, "ssh.bastion.address"),
    ({"ssh": {"bastion": {"address": "b", "user": "ops\n"}}, "hosts": [HOST]}, "ssh.bastion.user"),
    ({"hosts": [{**HOST, "address": "m1.example\n"}]}, "hosts[0].address"),
    ({"hosts": [{**HOST, "zone": "a\n"}]}, "hosts[0].zone"),
    ({"hosts": [{**HOST, "hostname": "m1\n"}]}, "hosts[0].hostname"),
    ({"hosts": [{**HOST, "private_address": "10.0.0.1\n"}]}, "hosts[0].private_address"),
    ({"hosts": [{**HOST, "role": "manager\n"}]}, "hosts[0].role"),
    ({"hosts": [{**HOST, "state": "present\n"}]}, "hosts[0].state"),
]


@pytest.mark.parametrize(("data", "key"), INVENTORY_TEXT, ids=[k for _, k in INVENTORY_TEXT])
def test_inventory_text_with_a_trailing_newline_is_refused(
    tmp_path: Path, data: dict[str, Any], key: str
) -> None:
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(data, base=tmp_path)
    assert any(line.startswith(f"inventory: {key}: ") for line in caught.value.problems)
    assert all("\n" not in line for line in caught.value.problems)


def test_every_template_default_passes_the_templates_own_constraints() -> None:
    spec = ClusterSpec.model_validate(
        {
            **{k: v for k, v in VALID_TEXT.items() if k not in ("existing_vpc_id",)},
            "existing_subnet_ids": [],
            "instance_type": "m7i-flex.large",
            "manager_instance_type": "c7g.xlarge",
            "worker_disk_type": "gp2",
            "key_name": "ops key (2024) #1",
            "zones": ["us-gov-west-1a", "us-gov-west-1b", "us-gov-west-1c"],
            "region": "us-gov-west-1",
        }
    )
    checked = 0
    for name, properties in parameter_specs(spec).items():
        if "Default" not in properties:
            continue
        default = properties["Default"]
        if "AllowedPattern" in properties:
            assert re.fullmatch(properties["AllowedPattern"], str(default)), name
            checked += 1
        if "AllowedValues" in properties:
            assert default in properties["AllowedValues"], name
        if "MinValue" in properties:
            assert properties["MinValue"] <= float(default) <= properties["MaxValue"], name
    assert checked >= 5  # zones, VPC, instance types, SSH CIDR really were checked


def swarmstack_variables_read_in_the_source() -> set[str]:
    roots = [REPOSITORY / folder for folder in ("src", "provisioners", "templates", "scripts")]
    names: set[str] = set()
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix in (".py", ".sh") and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                names |= set(re.findall(r"\bSWARMSTACK_[A-Z][A-Z0-9_]*", text))
    return names


def test_every_swarmstack_variable_the_code_reads_is_known() -> None:
    known = {env_name(field) for field in SPEC_FIELDS} | NOT_SPEC_PARAMETERS
    heredoc_markers = {"SWARMSTACK_FILE_END"}  # cloud-init here-documents, not variables
    read = swarmstack_variables_read_in_the_source() - heredoc_markers
    assert {"SWARMSTACK_LOCAL_STATE", "SWARMSTACK_LOCAL_CACHE"} <= read
    assert read - known == set()


def test_a_missing_cluster_is_the_same_exit_code_on_both_clouds() -> None:
    aws = StackNotFound("stack x does not exist")
    azure = AzureClusterNotFound("resource group x does not exist")
    assert aws.exit_code == azure.exit_code == 1


def commands_with(option: str) -> list[tuple[list[str], click.Command]]:
    found = []

    def walk(group: click.Group, path: list[str]) -> None:
        # list_commands/get_command: the root group loads its subcommands only when asked.
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if command is None:
                continue
            if isinstance(command, click.Group):
                walk(command, [*path, name])
            elif any(option in getattr(p, "opts", ()) for p in command.params):
                found.append(([*path, name], command))

    walk(cli, [])
    assert found, f"no command has {option}: the walk over the CLI found nothing"
    return found


def required_extras(command: click.Command) -> list[str]:
    """Just enough for the command to reach its use of the option under test."""
    names = {p.name for p in command.params}
    extras = ["--region", "us-east-1"] if "region" in names else []
    extras += ["--key-name", "k"] if "key_name" in names else []
    # The AWS template (node agent in its user data) is over the inline limit for every spec.
    extras += ["--for-s3"] if "for_s3" in names else []
    return extras + (["--yes"] if "yes" in names else [])


@pytest.mark.parametrize(
    ("path", "command"),
    commands_with("--out"),
    ids=[" ".join(p) for p, _ in commands_with("--out")],
)
def test_every_out_option_refuses_an_unwritable_path_in_one_line(
    path: list[str], command: click.Command
) -> None:
    result = CliRunner().invoke(
        cli, [*path, *required_extras(command), "--out", "/nonexistent/x.json"]
    )
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Traceback" not in result.output
    assert "error: --out=/nonexistent/x.json: cannot write" in result.stderr


@pytest.mark.parametrize(
    ("path", "command"),
    commands_with("--endpoint-url"),
    ids=[" ".join(p) for p, _ in commands_with("--endpoint-url")],
)
def test_every_endpoint_option_refuses_a_malformed_url_before_any_call(
    path: list[str], command: click.Command
) -> None:
    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "1"}
    args = [*path, *required_extras(command), "--endpoint-url", "notaurl"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: --endpoint-url=notaurl: must be an http(s) URL")
