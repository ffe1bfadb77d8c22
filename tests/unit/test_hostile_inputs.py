"""Issue 11's hostile inputs: each reported example, one line naming the input, exit 2.

Tracebacks, resource exhaustion, values accepted although wrong, and misleading successes.
Each class also has a test over every member (tests/unit/test_input_classes.py) and the
property-based tests (tests/unit/test_properties_inputs.py).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from swarmstack.aws.session import NEARBY_ENDPOINT_CONFIG, AwsConnection, AwsSettings
from swarmstack.cli.main import cli
from swarmstack.errors import (
    MAX_PROBLEM_LINES,
    ExitCode,
    InventoryError,
    SpecFileError,
    UsageError,
)
from swarmstack.provisioners.inventory import inventory_from_data, load_inventory
from swarmstack.specload import read_spec_file
from swarmstack.yamlfile import MAX_FILE_BYTES

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# 642 bytes that expand to 9**9 strings: the inventory of the report.
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "hosts: [{address: 198.18.0.11, role: *i}]\n"
)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**FAKE_AWS, **(env or {})})


def assert_one_line_usage_error(result: Result, *needles: str) -> None:
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0]


def inventory_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "inventory.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- tracebacks ----------------------------------------------------------------------------


def test_a_spec_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_bytes(b"name: caf\xe9\n")
    result = invoke("spec", "validate", str(spec))
    assert_one_line_usage_error(result, str(spec), "line 1, column 10: byte 0xe9 is not UTF-8")


def test_an_inventory_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = inventory_file(tmp_path, b"hosts:\n  - {address: 198.18.0.11, role: \xff}\n")
    result = invoke("bootstrap", "-i", str(path), "--plan")
    assert_one_line_usage_error(result, str(path), "line 2, column 34: byte 0xff is not UTF-8")


def test_template_out_to_a_missing_folder_is_one_line() -> None:
    # --for-s3: the template with the node agent is over the inline limit for every spec.
    result = invoke("aws", "template", "--for-s3", "--out", "/nonexistent/x.json")
    assert_one_line_usage_error(
        result, "--out=/nonexistent/x.json: cannot write (No such file or directory)"
    )


def test_launch_stack_with_an_endpoint_that_is_not_a_url_is_one_line() -> None:
    result = invoke(
        "aws", "launch-stack", "--name", "x", "--region", "us-east-1", "--key-name", "k",
        "--endpoint-url", "not-a-url", "--yes",
    )  # fmt: skip
    assert_one_line_usage_error(result, "--endpoint-url=not-a-url: must be an http(s) URL")


@pytest.mark.parametrize(
    ("flags", "env", "label"),
    [
        (["--endpoint-url", "notaurl"], {}, "--endpoint-url=notaurl"),
        ([], {"AWS_ENDPOINT_URL": "notaurl"}, "AWS_ENDPOINT_URL=notaurl"),
        (["--endpoint-url", "http://127.0.0.1:port"], {}, "--endpoint-url=http://127.0.0.1:port"),
        (["--endpoint-url", "ftp://127.0.0.1"], {}, "--endpoint-url=ftp://127.0.0.1"),
    ],
)
def test_aws_status_with_a_bad_endpoint_is_one_line(
    flags: list[str], env: dict[str, str], label: str
) -> None:
    result = invoke("aws", "status", "--name", "x", "--region", "us-east-1", *flags, env=env)
    assert_one_line_usage_error(result, label, "must be an http(s) URL")


# --- resource exhaustion -------------------------------------------------------------------


def test_an_alias_bomb_inventory_is_refused_at_once(tmp_path: Path) -> None:
    path = inventory_file(tmp_path, ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 700
    started = time.monotonic()
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert time.monotonic() - started < 5  # was 38 s and a MemoryError
    (line,) = caught.value.problems
    assert "expands to more than 100,000 values (YAML aliases)" in line


def test_an_alias_bomb_spec_is_refused_by_the_cli(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(ALIAS_BOMB.replace("hosts: [{address: 198.18.0.11, role: *i}]", "zones: *i"))
    assert_one_line_usage_error(invoke("spec", "validate", str(spec)), "YAML aliases")


def test_a_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"alias \*a refers to a value that contains it"):
        load_inventory(inventory_file(tmp_path, "hosts: &a [*a]\n"))


def test_ordinary_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    text = (
        "defaults: &worker {role: worker, zone: a}\n"
        "hosts:\n"
        "  - {address: 198.18.0.11, role: manager}\n"
        "  - {<<: *worker, address: 198.18.0.12}\n"
    )
    path = inventory_file(tmp_path, text)
    with pytest.raises(InventoryError) as caught:  # only the unknown top-level key is wrong
        load_inventory(path)
    assert caught.value.problems == (f"{path}: defaults: unknown key (allowed: ssh, hosts)",)
    spec = tmp_path / "cluster.yaml"
    spec.write_text("name: &n prod\ntags: {team: *n}\n")
    assert read_spec_file(spec) == {"name": "prod", "tags": {"team": "prod"}}


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    hosts = "".join(
        f"  - {{address: 198.18.{i // 250}.{i % 250 + 1}, role: worker}}\n" for i in range(200_000)
    )
    path = inventory_file(tmp_path, "hosts:\n" + hosts)  # 8.7 MB, as in the report
    assert path.stat().st_size > MAX_FILE_BYTES
    started = time.monotonic()
    with pytest.raises(InventoryError, match="larger than 256 KiB; refusing to read it"):
        load_inventory(path)
    assert time.monotonic() - started < 5  # was 86 s
    with pytest.raises(SpecFileError, match="larger than 256 KiB"):
        read_spec_file(path)


def test_thousands_of_bad_hosts_print_a_capped_number_of_lines(tmp_path: Path) -> None:
    hosts = [{"address": f"198.18.{i // 250}.{i % 250 + 1}", "role": "boss"} for i in range(3000)]
    with pytest.raises(InventoryError) as caught:
        inventory_from_data({"hosts": hosts}, base=tmp_path)
    lines = caught.value.problems
    assert len(lines) == MAX_PROBLEM_LINES + 1
    assert lines[-1].startswith(f"... and {3000 - MAX_PROBLEM_LINES} more problems")


def test_a_huge_value_is_never_echoed(tmp_path: Path) -> None:
    huge = "x" * 1_000_000
    with pytest.raises(InventoryError) as caught:
        inventory_from_data({"hosts": [{"address": "198.18.0.11", "role": huge}]}, base=tmp_path)
    (line, *_) = caught.value.problems
    assert "hosts[0].role: must be manager or worker, not 'xxx" in line
    assert len(line) < 200
    spec = tmp_path / "cluster.yaml"
    spec.write_text(f"name: {'y' * 200_000}\n")
    result = invoke("spec", "validate", str(spec))
    assert_one_line_usage_error(result, "name='yyy")
    assert len(result.stderr) < 400


# --- accepted but wrong ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--name", "ab\n"), ("--docker-version", "28.5\n"), ("--region", "eu-west-1\n")],
)
def test_a_trailing_newline_is_refused_and_shown_escaped(flag: str, value: str) -> None:
    result = invoke("aws", "template", flag, value)
    assert_one_line_usage_error(result, f"{flag}={value!r}:")


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ({"address": "198.18.0.11", "role": "manager", "zone": "a\n"}, "hosts[0].zone"),
        ({"address": "h1.example\n", "role": "manager"}, "hosts[0].address"),
        ({"address": "198.18.0.11", "role": "manager", "hostname": "m1\n"}, "hosts[0].hostname"),
    ],
)
def test_inventory_values_with_a_trailing_newline_are_refused(
    tmp_path: Path, host: dict[str, str], key: str
) -> None:
    with pytest.raises(InventoryError, match=rf"{re.escape(key)}: must"):
        inventory_from_data({"hosts": [host]}, base=tmp_path)
    with pytest.raises(InventoryError, match=r"ssh\.user: must be a login name"):
        inventory_from_data(
            {"ssh": {"user": "ops\n"}, "hosts": [{"address": "198.18.0.11", "role": "manager"}]},
            base=tmp_path,
        )


def test_a_private_address_written_as_a_number_is_refused(tmp_path: Path) -> None:
    path = inventory_file(
        tmp_path, "hosts: [{address: m1.example.com, role: manager, private_address: 3321887243}]"
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert caught.value.problems[0] == (
        f"{path}: hosts[0].private_address: must be an IP address written like 198.18.0.11, "
        "not 3321887243"
    )


def test_two_hosts_with_one_private_address_are_refused(tmp_path: Path) -> None:
    hosts = [
        {"address": "m1.example.com", "role": "manager", "private_address": "10.0.0.5"},
        {"address": "w1.example.com", "role": "worker", "private_address": "10.0.0.5"},
        {"address": "10.0.0.5", "role": "worker"},
    ]
    with pytest.raises(InventoryError) as caught:
        inventory_from_data({"hosts": hosts}, base=tmp_path)
    assert caught.value.problems == (
        "inventory: hosts[1].private_address: 10.0.0.5 is already the swarm address of hosts[0]",
        "inventory: hosts[2].address: 10.0.0.5 is already the swarm address of hosts[0]",
    )


def test_zones_that_could_reach_a_shell_are_refused() -> None:
    result = invoke("aws", "template", "--zones", "us-east-1a,$(id)")
    assert_one_line_usage_error(result, "--zones=us-east-1a,$(id): must be zone names", "$(id)")


def test_zones_an_aws_template_parameter_would_refuse_are_refused() -> None:
    result = invoke("aws", "template", "--zones", "us-east-1a,1")
    assert_one_line_usage_error(result, "on AWS must be zone names like eu-west-1a (1 is not)")


@pytest.mark.parametrize("key_name", ["ops\x07key", "ops\nkey", " ops", "k" * 256, "clé"])
def test_key_names_aws_would_refuse_are_refused(key_name: str) -> None:
    result = invoke("aws", "template", "--key-name", key_name)
    assert_one_line_usage_error(result, "--key-name=", "must be an EC2 key pair name")


def test_printable_key_names_pass() -> None:
    result = invoke("aws", "template", "--for-s3", "--key-name", "ops key (2024) #1")
    assert result.exit_code == ExitCode.OK, result.output


@pytest.mark.parametrize(
    ("settings", "env", "line"),
    [
        (
            AwsSettings(region="westeurope"),
            {},
            "region=westeurope: on AWS must be a region like eu-west-1 "
            "(westeurope looks like an Azure location)",
        ),
        (
            AwsSettings(),
            {"AWS_DEFAULT_REGION": "eu-west-1x"},
            "AWS_DEFAULT_REGION=eu-west-1x: on AWS must be a region like eu-west-1",
        ),
    ],
)
def test_a_region_aws_does_not_have_is_refused_before_any_call(
    monkeypatch: pytest.MonkeyPatch, settings: AwsSettings, env: dict[str, str], line: str
) -> None:
    for name, value in {**FAKE_AWS, **env}.items():
        monkeypatch.setenv(name, value)
    connection = AwsConnection(settings)
    with pytest.raises(UsageError) as caught:
        connection.account_id()  # would otherwise retry for 30 s against a missing host
    assert caught.value.problems == (line,)


def test_an_aws_template_for_an_azure_location_exits_2() -> None:
    result = invoke("aws", "template", "--region", "westeurope")
    assert_one_line_usage_error(result, "region=westeurope: on AWS must be a region like eu-west-1")


def test_aws_status_for_an_azure_location_exits_2() -> None:
    result = invoke("aws", "status", "--name", "x", "--region", "westeurope")
    assert_one_line_usage_error(result, "region=westeurope: on AWS must be a region")


def test_an_unknown_swarmstack_variable_is_named(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text("name: prod\n")
    result = invoke("spec", "validate", str(spec), env={"SWARMSTACK_MANGER_SIZE": "5"})
    assert_one_line_usage_error(
        result,
        "SWARMSTACK_MANGER_SIZE: unknown environment variable "
        "(did you mean SWARMSTACK_MANAGER_SIZE?)",
    )


def test_documented_variables_that_are_not_spec_parameters_are_accepted(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text("name: prod\n")
    env = {
        "SWARMSTACK_LOCAL_STATE": str(tmp_path),
        "SWARMSTACK_LOCAL_CACHE": str(tmp_path),
        "SWARMSTACK_HYPOTHESIS_EXAMPLES": "10",
        "SWARMSTACK_UNUSED": "",  # empty counts as unset, as for spec parameters
    }
    result = invoke("spec", "validate", str(spec), env=env)
    assert result.exit_code == ExitCode.OK, result.output


# --- misleading ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["down", "status", "up"])
@pytest.mark.parametrize("name", ["../../../tmp", "ab\n", "UPPER", ""])
def test_local_commands_refuse_a_bad_name_first(command: str, name: str) -> None:
    result = invoke("local", command, "--name", name)
    assert_one_line_usage_error(result, "--name=", "must be 1-32 characters")


# --- cloud-facing edges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000", "http://localhost:4566", "https://10.1.2.3", "http://[::1]:1"]
)
def test_a_nearby_endpoint_fails_fast(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    connection = AwsConnection(AwsSettings(region="us-east-1", endpoint_url=url))
    config: Any = connection.cloudformation().meta.config  # botocore sets these dynamically
    nearby: Any = NEARBY_ENDPOINT_CONFIG
    assert config.connect_timeout == nearby.connect_timeout == 2
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_aws_endpoints_keep_the_patient_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    connection = AwsConnection(AwsSettings(region="us-east-1"))
    config: Any = connection.cloudformation().meta.config
    assert config.retries == {
        "mode": "adaptive",
        "total_max_attempts": 11,
    }
