"""Text mode prints text (never a YAML dump), a missing cluster exits 1 as on AWS, and an
unreachable Resource Manager is one clean line."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure

from .conftest import SUBSCRIPTION, secret_credential
from .test_deploy import GROUP, KEY, LOCATION

DEPLOY_FLAGS = [
    "--location", LOCATION, "--ssh-public-key", KEY, "--ssh-cidr", "203.0.113.0/24",
    "--manager-size", "1", "--cluster-size", "1",
]  # fmt: skip


def run_text(
    fake: FakeAzure, monkeypatch: pytest.MonkeyPatch, *args: str, endpoint: str | None = None
) -> Any:
    monkeypatch.setattr(
        "swarmstack.azure.credentials.default_credential", lambda cloud: secret_credential(fake)
    )
    return CliRunner().invoke(
        cli,
        ["azure", args[0], "-g", GROUP, "--subscription", SUBSCRIPTION,
         "--arm-endpoint", endpoint or fake.base_url, "--poll-interval", "0", *args[1:]],
    )  # fmt: skip


def assert_not_a_data_dump(stdout: str) -> None:
    assert "resource_group:" not in stdout
    assert "plan:" not in stdout
    assert len(stdout.splitlines()) == 1, stdout


def test_dry_run_in_text_mode_prints_one_line(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_text(fake_azure, monkeypatch, "deploy", *DEPLOY_FLAGS, "--dry-run")
    assert result.exit_code == ExitCode.OK, result.output
    assert_not_a_data_dump(result.stdout)
    assert result.stdout.startswith(f"--dry-run: resource group {GROUP} would change")
    assert "+ create" in result.stderr  # the plan itself is on stderr


def test_a_second_destroy_in_text_mode_prints_one_line(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = run_text(fake_azure, monkeypatch, "deploy", *DEPLOY_FLAGS, "--yes", "--no-wait")
    assert deployed.exit_code == ExitCode.OK, deployed.output
    first = run_text(fake_azure, monkeypatch, "destroy", "--yes")
    assert first.exit_code == ExitCode.OK, first.output
    second = run_text(fake_azure, monkeypatch, "destroy", "--yes")
    assert second.exit_code == ExitCode.OK, second.output
    assert_not_a_data_dump(second.stdout)
    assert second.stdout.startswith(f"nothing of cluster swarm in resource group {GROUP}")


def test_status_of_a_missing_resource_group_exits_1(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_text(fake_azure, monkeypatch, "status")
    assert result.exit_code == ExitCode.FAILED, result.output
    assert result.stderr.splitlines()[0] == f"error: resource group {GROUP} does not exist"
    assert result.stdout == ""


def test_status_of_a_cluster_missing_from_its_group_exits_1(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = run_text(fake_azure, monkeypatch, "deploy", *DEPLOY_FLAGS, "--yes", "--no-wait")
    assert deployed.exit_code == ExitCode.OK, deployed.output
    result = run_text(fake_azure, monkeypatch, "status", "--name", "other")
    assert result.exit_code == ExitCode.FAILED, result.output
    assert result.stderr.startswith(
        f"error: no resources of cluster other in resource group {GROUP}"
    )


def test_an_unreachable_resource_manager_is_one_clean_line(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_text(fake_azure, monkeypatch, "status", endpoint=f"https://127.0.0.1:{port}")
    assert result.exit_code == ExitCode.FAILED, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0] == (
        f"error: resource group {GROUP}: cannot reach Azure Resource Manager: "
        "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    assert " object at 0x" not in result.stderr
