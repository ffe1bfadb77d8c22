"""`swarmstack local`: input checks and the root requirement, before anything is touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode, LocalProviderError
from swarmstack.provisioners.local import LocalCluster, Machine, formation, paths
from swarmstack.provisioners.local.run import require_host_tools
from swarmstack.spec import ClusterSpec


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


EXAMPLE = Path(__file__).parents[2] / "examples" / "cluster.yaml"


class _Recorded(Exception):
    """Stops `local up` once the spec has been handed over (no machines are made here)."""


def _record_up(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    handed: dict[str, Any] = {}

    def up(managers: int, workers: int, *, name: str, **_: Any) -> str:
        handed.update(managers=managers, workers=workers, name=name)
        return "the cluster"

    def form(cluster: object, spec: ClusterSpec, **_: Any) -> None:
        handed["spec"] = spec
        raise _Recorded

    monkeypatch.setattr(LocalCluster, "up", up)
    monkeypatch.setattr(formation, "form_swarm", form)
    return handed


def test_up_honours_the_spec_files_name_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    handed = _record_up(monkeypatch)
    result = CliRunner().invoke(
        cli, ["local", "up", "-f", str(EXAMPLE), "--managers", "1", "--workers", "1"]
    )
    assert isinstance(result.exception, _Recorded), result.output
    assert (handed["name"], handed["managers"], handed["workers"]) == ("prod", 1, 1)
    spec: ClusterSpec = handed["spec"]
    assert (spec.name, spec.manager_size, spec.cluster_size) == ("prod", 1, 1)
    assert spec.enable_system_prune is True  # from the file; the default is false
    assert spec.managers_accept_workloads is False
    # The file's pool (10.128.0.0/12) is a cloud's: the machines keep theirs, and say so.
    assert spec.default_addr_pool == ["198.19.0.0/18"]
    assert "default_addr_pool=10.128.0.0/12 lies outside 198.19.0.0/17" in result.stderr


def test_up_without_a_spec_keeps_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    handed = _record_up(monkeypatch)
    result = CliRunner().invoke(cli, ["local", "up", "--autolock", "--cert-expiry-hours", "48"])
    assert isinstance(result.exception, _Recorded), result.output
    assert (handed["name"], handed["managers"], handed["workers"]) == ("local", 3, 2)
    spec: ClusterSpec = handed["spec"]
    assert (spec.autolock, spec.cert_expiry_hours) == (True, 48)
    assert spec.default_addr_pool == ["198.19.0.0/18"]
    assert "outside" not in result.stderr


def test_up_refuses_an_explicit_pool_outside_the_benchmark_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed = _record_up(monkeypatch)
    result = CliRunner().invoke(cli, ["local", "up", "--default-addr-pool", "10.20.0.0/16"])
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "error: --default-addr-pool=10.20.0.0/16: must lie inside 198.19.0.0/17 on the local "
        "machines (the benchmark range, clear of their own addresses)"
    ]
    assert handed == {}


def test_the_swarm_is_formed_with_the_spec_sized_by_the_machines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    handed: dict[str, Any] = {}

    class Cluster:
        name = "prod"
        dir = tmp_path

        def inventory(self) -> dict[str, Any]:
            return {
                "ssh": {"user": "root", "known_hosts": str(tmp_path / "kh")},
                "hosts": [
                    {"address": "198.18.0.11", "role": "manager", "hostname": "ss-m1"},
                    {"address": "198.18.0.12", "role": "worker", "hostname": "ss-w1"},
                    {"address": "198.18.0.13", "role": "worker", "hostname": "ss-w2"},
                ],
            }

    def converge(spec: ClusterSpec, inventory: Any, **kwargs: Any) -> str:
        handed.update(spec=spec, inventory=inventory, **kwargs)
        return "converged"

    monkeypatch.setattr(formation, "converge", converge)
    spec = ClusterSpec.model_validate({"name": "prod", "autolock": True, "cluster_size": 9})
    leaving = [Machine("ss-w2", "worker", 2, "198.18.0.13")]
    result: object = formation.form_swarm(Cluster(), spec, leaving=leaving)  # type: ignore[arg-type]
    assert result == "converged"
    formed: ClusterSpec = handed["spec"]
    assert (formed.name, formed.autolock) == ("prod", True)
    assert (formed.manager_size, formed.cluster_size) == (1, 1)  # the leaving one is absent
    assert handed["local_machine"] is True
    states = {h.hostname: h.state for h in handed["inventory"].hosts}
    assert states == {"ss-m1": "present", "ss-w1": "present", "ss-w2": "absent"}
