"""`swarmstack local up --cloud aws`: its one-line errors, before anything is touched."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swarmstack.cli import local_sim
from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode
from swarmstack.provisioners.local import paths
from swarmstack.spec import ClusterSpec


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A non-root user, and state/cache folders that would show any file written."""
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")
    monkeypatch.setattr(paths, "CACHE_ROOT", tmp_path / "cache")
    monkeypatch.setattr(paths, "IMAGES", tmp_path / "cache" / "images")
    return tmp_path


def _up(*args: str) -> Any:
    return CliRunner().invoke(cli, ["local", "up", *args])


def test_a_wrong_cloud_names_the_clouds_there_are(not_root: Path) -> None:
    result = _up("--cloud", "gcp")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.strip().splitlines()[0] == "error: --cloud=gcp: must be one of aws, azure"
    assert list(not_root.iterdir()) == []


def test_without_the_extra_it_says_what_to_install(
    not_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a)
    )
    result = _up("--cloud", "aws")
    assert result.exit_code == ExitCode.USAGE
    assert "pip install 'swarmstack[sim]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(not_root.iterdir()) == []


def test_without_root_it_says_so_and_touches_nothing(not_root: Path) -> None:
    result = _up("--cloud", "aws", "--managers", "1", "--workers", "1")
    assert result.exit_code == ExitCode.FAILED
    assert "error: swarmstack local up --cloud aws needs root" in result.stderr
    assert list(not_root.iterdir()) == []


def test_bad_counts_are_spec_errors_before_the_root_check(not_root: Path) -> None:
    result = _up("--cloud", "aws", "--managers", "2")
    assert result.exit_code == ExitCode.USAGE
    assert "manager" in result.stderr
    assert "root" not in result.stderr


@pytest.fixture
def handed_over(monkeypatch: pytest.MonkeyPatch) -> list[ClusterSpec]:
    """The spec `local up --cloud aws` hands to the simulation (which is not started)."""
    specs: list[ClusterSpec] = []

    def hand_over(_output: Any, spec: ClusterSpec, cloud: str = "aws") -> None:
        specs.append(spec.model_copy(update={"tags": {**spec.tags, "handed-to": cloud}}))

    monkeypatch.setattr(local_sim, "up_simulation", hand_over)
    return specs


def test_the_default_stack_is_named_like_the_cluster_with_logs_off(
    handed_over: list[ClusterSpec],
) -> None:
    result = _up("--cloud", "aws", "--workers", "1", "--name", "try")
    assert result.exit_code == 0, result.output
    [spec] = handed_over
    assert (spec.name, spec.manager_size, spec.cluster_size) == ("try", 3, 1)
    assert spec.enable_cloudwatch_logs is False


def test_counts_from_flags_win_over_the_spec_file(
    tmp_path: Path, handed_over: list[ClusterSpec]
) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: prod\nmanager_size: 5\ncluster_size: 4\n")
    result = _up("--cloud", "aws", "-f", str(file), "--workers", "2")
    assert result.exit_code == 0, result.output
    [spec] = handed_over
    assert (spec.name, spec.manager_size, spec.cluster_size) == ("prod", 5, 2)
    # The overlay pool of a simulated stack stays inside the benchmark range too.
    assert all(pool.startswith("198.19.") for pool in spec.default_addr_pool)


def test_azure_gets_the_spec_from_a_file_with_the_flags_counts(
    tmp_path: Path, handed_over: list[ClusterSpec]
) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: tryaz\nmanager_size: 3\ncluster_size: 4\n")
    result = _up("--cloud", "azure", "-f", str(file), "--workers", "2")
    assert result.exit_code == 0, result.output
    [spec] = handed_over
    assert (spec.name, spec.manager_size, spec.cluster_size) == ("tryaz", 3, 2)
    assert spec.tags["handed-to"] == "azure"


def test_azure_without_root_says_so_and_touches_nothing(not_root: Path) -> None:
    result = _up("--cloud", "azure", "--managers", "1", "--workers", "1")
    assert result.exit_code == ExitCode.FAILED
    assert "error: swarmstack local up --cloud azure needs root" in result.stderr
    assert list(not_root.iterdir()) == []


def test_azure_up_prints_the_endpoint_the_client_and_the_instances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `local up --cloud azure` shows once the machines booted (the simulation itself
    is stubbed here; the integration tests run it)."""
    from swarmstack.provisioners.local.sim.azure import local as azure_sim
    from swarmstack.provisioners.local.sim.azure.control import AzureUrls

    urls = AzureUrls(
        "https://198.18.0.1:8443", "http://198.18.0.1:8180", "http://198.18.0.1:8169", "/ca.pem"
    )
    result = azure_sim.AzureSimResult("tryaz", "tryaz", "swarmstack", urls, {})
    row = {
        "instance_id": "tryaz-managers_0",
        "role": "manager",
        "vm_state": "Succeeded",
        "hostname": "tryaz-m000000",
        "machine": "running",
        "address": "198.18.0.2",
    }
    monkeypatch.setattr(azure_sim, "up", lambda spec, name, progress: result)
    monkeypatch.setattr(azure_sim, "wait_for_instances", lambda name, progress: None)
    monkeypatch.setattr(azure_sim, "status", lambda name: {"instances": [row]})
    text = _up("--cloud", "azure", "--managers", "1", "--workers", "0", "--name", "tryaz")
    assert text.exit_code == 0, text.output
    assert "https://198.18.0.1:8443" in text.stdout
    assert "REQUESTS_CA_BUNDLE=/ca.pem" in text.stdout
    assert "tryaz-m000000" in text.stdout
    data = json.loads(
        CliRunner()
        .invoke(cli, ["-o", "json", "local", "up", "--cloud", "azure", "--name", "tryaz"])
        .stdout
    )
    assert data["arm_endpoint"] == "https://198.18.0.1:8443"
    assert data["instances"] == [row]
