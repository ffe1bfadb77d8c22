"""`swarmstack render cloudinit`."""

from __future__ import annotations

import base64
import gzip
import json

from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.cloudinit import render_user_data, tuning_script

from .variants import make_spec


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def test_prints_the_user_data_verbatim() -> None:
    code, out, err = run("render", "cloudinit", "--role", "worker", "--cloud", "azure")
    assert code == 0, err
    assert out == render_user_data(make_spec(), "worker", "azure")
    assert "user data:" in err  # size on stderr, stdout stays clean for piping


def test_spec_flags_reach_the_user_data() -> None:
    code, out, _ = run(
        "render", "cloudinit", "--cloud", "aws", "--no-enable-cloudwatch-logs",
        "--enable-system-prune", "--vpc-cidr", "172.17.0.0/16",
    )  # fmt: skip
    assert code == 0
    assert '"log-driver": "local"' in out
    assert "swarmstack-docker-prune.timer" in out
    assert '"base": "172.18.0.0/16"' in out  # host-local pool clear of the VPC


def test_base64_is_what_the_cloud_receives() -> None:
    code, out, _ = run("render", "cloudinit", "--cloud", "aws", "--enable-system-prune")
    assert code == 0
    code, encoded, err = run(
        "render", "cloudinit", "--cloud", "aws", "--enable-system-prune", "--base64"
    )
    assert code == 0, err
    raw = base64.b64decode(encoded)
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    assert raw.decode() == out


def test_prints_the_ssh_script() -> None:
    spec = make_spec(default_addr_pool=["198.19.0.0/18"])
    code, out, err = run(
        "render", "cloudinit", "--form", "script", "--local-machine",
        "--default-addr-pool", "198.19.0.0/18",
    )  # fmt: skip
    assert code == 0, err
    assert out == tuning_script(spec, "manager", local_machine=True)


def test_json_output() -> None:
    code, out, _ = run("-o", "json", "render", "cloudinit", "--cloud", "generic")
    assert code == 0
    data = json.loads(out)
    assert data["form"] == "user-data"
    assert data["content"].startswith("#cloud-config\n")


def test_bad_combinations_are_one_line_errors() -> None:
    code, _, err = run("render", "cloudinit", "--form", "script", "--cloud", "aws")
    assert code == 2
    assert "error: --cloud=aws: the script is the same on every cloud" in err
    code, _, err = run("render", "cloudinit", "--local-machine")
    assert code == 2
    assert "--local-machine: applies to --form script only" in err
    code, _, err = run("render", "cloudinit", "--form", "script", "--local-machine")
    assert code == 2
    assert "default_addr_pool=10.0.0.0/8: must lie inside 198.18.0.0/15" in err
