"""`swarmstack local`: input checks and the root requirement, before anything is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode, LocalProviderError
from swarmstack.provisioners.local import paths
from swarmstack.provisioners.local.run import require_host_tools


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A non-root user, and state/cache folders that would show any file written."""
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")
    monkeypatch.setattr(paths, "CACHE_ROOT", tmp_path / "cache")
    monkeypatch.setattr(paths, "IMAGES", tmp_path / "cache" / "images")
    return tmp_path


def test_up_without_root_is_a_clear_error_and_touches_nothing(not_root: Path) -> None:
    result = CliRunner().invoke(cli, ["local", "up", "--managers", "1", "--workers", "0"])
    assert result.exit_code == ExitCode.FAILED
    assert "error: swarmstack local up needs root" in result.stderr
    assert "hint: run it with sudo" in result.stderr
    assert list(not_root.iterdir()) == []


@pytest.mark.parametrize("command", [["down", "--name", "x"], ["ssh", "ss-m1"]])
def test_down_and_ssh_need_root_too(not_root: Path, command: list[str]) -> None:
    (not_root / "state" / "x").mkdir(parents=True)
    (not_root / "state" / "x" / "state.json").write_text("{}")
    result = CliRunner().invoke(cli, ["local", *command])
    assert result.exit_code == ExitCode.FAILED
    assert f"error: swarmstack local {command[0]} needs root" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--managers", "2"], "--managers=2: must be 1, 3, 5 or 7"),
        (["--workers", "-1"], "--workers=-1: must be between 0 and"),
        (["--name", "Bad_Name"], "--name=Bad_Name: must be 1-32 characters"),
    ],
)
def test_bad_input_is_a_usage_error_before_the_root_check(
    not_root: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["local", "up", *args])
    assert result.exit_code == ExitCode.USAGE
    assert f"error: {message}" in result.stderr
    assert "root" not in result.stderr


def test_status_of_a_cluster_that_does_not_exist(not_root: Path) -> None:
    result = CliRunner().invoke(cli, ["local", "status", "--name", "nothere"])
    assert result.exit_code == ExitCode.FAILED
    assert "error: no local cluster named nothere" in result.stderr
    assert "swarmstack local up --name nothere" in result.stderr


def test_down_of_a_cluster_that_does_not_exist_is_a_no_op(
    not_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    result = CliRunner().invoke(cli, ["-o", "json", "local", "down", "--name", "nothere"])
    assert result.exit_code == ExitCode.OK
    assert '"removed": false' in result.stdout


def test_missing_host_programs_are_named_with_their_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "shutil.which", lambda tool: None if tool in ("systemd-nspawn", "ip") else tool
    )
    with pytest.raises(LocalProviderError) as error:
        require_host_tools()
    assert error.value.problems == (
        "systemd-nspawn not found (Debian package systemd-container)",
        "ip not found (Debian package iproute2)",
    )
    assert error.value.hint == (
        "scripts/setup.sh installs them: apt-get install -y iproute2 systemd-container"
    )
