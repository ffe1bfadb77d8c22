"""Property-based tests: no input knocks the loaders or the CLI over.

For arbitrary YAML, bytes, flags and SWARMSTACK_* variables: no traceback, exit 0 or 2 (or a
valid result), within a time bound, and every error line names the key, flag or variable.
The seed and example count come from the profiles in tests/conftest.py.

Only commands that never leave this machine are driven (spec validate, aws/azure template,
render cloudinit): random flags must never produce a call to a cloud or an SSH connection.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode, InventoryError, SpecError, SpecFileError
from swarmstack.provisioners.inventory import inventory_from_data, load_inventory
from swarmstack.spec import SPEC_FIELDS, ClusterSpec
from swarmstack.specload import env_name, flag_name, load_spec

TIME_BOUND_SECONDS = 20.0  # per example; the slowest valid one renders a whole template

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=40)
    | st.sampled_from(["3", "yes", "28.5\n", "eu-west-1", "10.0.0.0/8", "$(id)", "\x00", "é"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
spec_keys = st.sampled_from(SPEC_FIELDS) | st.text(max_size=12)
spec_documents = st.dictionaries(spec_keys, values, max_size=6) | values


MORE = re.compile(r"\.\.\. and \d+ more problems \(fix these and run again to see the rest\)")


def names_its_key(line: str, prefixes: tuple[str, ...]) -> bool:
    return line.startswith(prefixes) or MORE.fullmatch(line) is not None


def spec_prefixes(path: Path | None = None) -> tuple[str, ...]:
    labels = [f"{field}=" for field in SPEC_FIELDS]
    labels += [f"{flag_name(field)}=" for field in SPEC_FIELDS]
    labels += [f"{env_name(field)}=" for field in SPEC_FIELDS]
    return (*labels, "SWARMSTACK_", *([f"{path}:"] if path else []))


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def bounded(started: float) -> None:
    assert time.monotonic() - started < TIME_BOUND_SECONDS


# --- the spec loader ----------------------------------------------------------------------


def check_spec_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "cluster.yaml", data)
        started = time.monotonic()
        problems: tuple[str, ...] = ()
        try:
            assert isinstance(load_spec(path), ClusterSpec)
        except (SpecError, SpecFileError) as exc:
            problems = exc.problems or ("(no problem lines)",)
        for line in problems:
            assert "\n" not in line
            assert names_its_key(line, spec_prefixes(path)), line
        bounded(started)


@given(spec_documents)
def test_any_yaml_spec_is_loaded_or_refused_line_by_line(document: Any) -> None:
    check_spec_file(yaml.safe_dump(document, allow_unicode=True).encode("utf-8"))


@given(st.binary(max_size=300))
def test_any_bytes_as_a_spec_file_are_loaded_or_refused(data: bytes) -> None:
    check_spec_file(data)


@given(
    st.dictionaries(
        st.sampled_from(SPEC_FIELDS),
        st.text(max_size=30).filter(lambda v: "\x00" not in v),
        max_size=5,
    )
)
def test_any_environment_is_loaded_or_refused_naming_the_variable(env: dict[str, str]) -> None:
    environ = {env_name(field): value for field, value in env.items()}
    try:
        load_spec(environ=environ)
    except SpecError as exc:
        for line in exc.problems:
            assert line.startswith(tuple(f"{name}=" for name in environ)), line


# --- the inventory loader -----------------------------------------------------------------

INVENTORY_LINE = re.compile(
    r"inventory: ("
    r"(ssh|hosts)(\.[a-z_]+|\[\d+\])*: .+"  # a key of the format
    r"|.+: unknown key \(allowed: [a-z_, ]+\)"  # a key the user made up, named as written
    r"|must be a mapping with the keys ssh and hosts"  # the document itself
    r")"
    r"|\.\.\. and \d+ more problems \(fix these and run again to see the rest\)"
)
host_values = st.dictionaries(
    st.sampled_from(["address", "role", "zone", "private_address", "state", "port", "hostname"])
    | st.text(max_size=6),
    values
    | st.sampled_from(["manager", "worker", "absent", "198.18.0.11", "m1.example", 3321887243]),
    max_size=5,
)
ssh_values = st.dictionaries(
    st.sampled_from(["user", "key", "known_hosts", "port", "bastion", "connect_window"])
    | st.text(max_size=6),
    values | st.sampled_from(["ops", "b.example:x", "b.example:²", "ops@b.example:2222", 22, 0]),
    max_size=4,
)
inventories = (
    st.fixed_dictionaries(
        {},
        optional={"ssh": ssh_values | values, "hosts": st.lists(host_values, max_size=6) | values},
    )
    | values
)


@given(inventories)
def test_any_inventory_data_is_loaded_or_refused_line_by_line(data: Any) -> None:
    started = time.monotonic()
    problems: tuple[str, ...] = ()
    try:
        inventory_from_data(data, base=Path("/nonexistent"))
    except InventoryError as exc:
        problems = exc.problems or ("(no problem lines)",)
    for line in problems:
        assert "\n" not in line
        assert INVENTORY_LINE.fullmatch(line), line
    bounded(started)


@given(st.binary(max_size=300) | inventories.map(lambda d: yaml.safe_dump(d).encode()))
def test_any_inventory_file_is_loaded_or_refused(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "inventory.yaml", data)
        try:
            load_inventory(path)
        except InventoryError as exc:
            for line in exc.problems:
                assert names_its_key(line, (f"{path}:",)), line


# --- the CLI entry points -------------------------------------------------------------------

OFFLINE_COMMANDS = (
    ["spec", "validate"],  # followed by the spec file
    ["aws", "template"],
    ["azure", "template"],
    ["render", "cloudinit"],
)
flag_values = st.text(max_size=20) | st.sampled_from(
    ["3", "0", "-1", "yes", "ab\n", "eu-west-1", "westeurope", "us-east-1a,$(id)", "k=v", ""]
)
flags = st.lists(st.tuples(st.sampled_from(SPEC_FIELDS), flag_values), max_size=4)
environments = st.dictionaries(
    st.sampled_from([env_name(f) for f in SPEC_FIELDS] + ["SWARMSTACK_MANGER_SIZE"]),
    flag_values.filter(lambda v: "\x00" not in v),  # no environment can hold a NUL
    max_size=2,
)


@given(
    st.sampled_from(OFFLINE_COMMANDS),
    flags,
    environments,
    spec_documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
)
def test_any_flags_exit_0_or_2_and_name_the_flag(
    command: list[str], pairs: list[tuple[str, str]], env: dict[str, str], spec_text: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spec = write(Path(folder), "cluster.yaml", spec_text.encode("utf-8"))
        args = [*command, str(spec)] if command[0] == "spec" else [*command, "-f", str(spec)]
        for field, value in pairs:
            if field in ("enable_system_prune", "enable_cloudwatch_logs", "autolock"):
                args.append(flag_name(field))  # boolean flags take no value
            elif field == "managers_accept_workloads":
                args.append("--no-managers-accept-workloads")
            else:
                args += [f"{flag_name(field)}={value}"]
        started = time.monotonic()
        result = CliRunner().invoke(cli, args, env=env)
        bounded(started)
    assert result.exit_code in (ExitCode.OK, ExitCode.USAGE), (args, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == ExitCode.USAGE:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert errors, result.stderr
        for line in errors:
            text = line.removeprefix("error: ")
            assert names_its_key(text, spec_prefixes(spec)) or text.startswith("--"), line
