"""A simulation's --name: refused when plain machines or the other cloud's simulation have it,
with the same one-line error from `local up --cloud aws` and `--cloud azure`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmstack.errors import UsageError
from swarmstack.provisioners.local import paths
from swarmstack.provisioners.local.sim.local_cluster import check_name_for


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path)
    return tmp_path


def simulation(state: Path, name: str, config: dict[str, str]) -> None:
    (state / name / "sim").mkdir(parents=True)
    (state / name / "state.json").write_text("{}")
    (state / name / "sim" / "config.json").write_text(json.dumps(config))


def test_a_new_name_or_the_same_clouds_simulation_is_taken(state: Path) -> None:
    check_name_for("fresh", "aws")
    simulation(state, "try", {"cloud": "azure"})
    check_name_for("try", "azure")
    simulation(state, "old", {})  # written before there was an Azure simulation: AWS
    check_name_for("old", "aws")


@pytest.mark.parametrize(
    ("config", "cloud", "other"), [({"cloud": "azure"}, "aws", "Azure"), ({}, "azure", "AWS")]
)
def test_the_other_clouds_simulation_is_refused(
    state: Path, config: dict[str, str], cloud: str, other: str
) -> None:
    simulation(state, "try", config)
    with pytest.raises(UsageError) as error:
        check_name_for("try", cloud)
    assert str(error.value).splitlines()[0] == (
        f"--name=try: that cluster simulates {other}; "
        "`swarmstack local down --name try` it first or choose another --name"
    )


def test_plain_machines_are_refused(state: Path) -> None:
    (state / "plain").mkdir()
    (state / "plain" / "state.json").write_text("{}")
    with pytest.raises(UsageError, match="a local cluster of plain machines has that name"):
        check_name_for("plain", "aws")
