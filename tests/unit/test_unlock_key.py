"""The unlock key file: written 0600, refused when others can read it, clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.errors import UsageError
from swarmstack.provisioners.bootstrap import converge
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.unlockkey import (
    check_writable,
    default_unlock_key_file,
    read_unlock_key,
    save_unlock_key,
)
from swarmstack.spec import ClusterSpec

KEY = "SWMKEY-1-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_the_key_is_saved_for_the_user_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "new" / "unlock-key"
    save_unlock_key(path, KEY + "\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_unlock_key(path) == KEY
    save_unlock_key(path, KEY.replace("abc", "xyz"))  # rotation replaces it atomically
    assert read_unlock_key(path) == KEY.replace("abc", "xyz")
    assert [p.name for p in path.parent.iterdir()] == ["unlock-key"]


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unlock-key"
    save_unlock_key(path, KEY)
    path.chmod(0o644)
    with pytest.raises(UsageError, match="can be read by other users"):
        read_unlock_key(path)


def test_missing_or_wrong_key_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no unlock key at") as caught:
        read_unlock_key(tmp_path / "absent")
    assert "--unlock-key-file" in (caught.value.hint or "")
    other = tmp_path / "other"
    other.write_text("SWMTKN-1-not-a-key\n")
    other.chmod(0o600)
    with pytest.raises(UsageError, match="does not hold a swarm unlock key") as caught:
        read_unlock_key(other)
    assert "SWMTKN" not in "".join(caught.value.problems)
    with pytest.raises(UsageError, match="is a directory"):
        check_writable(tmp_path)


def test_default_places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_unlock_key_file("prod") == tmp_path / "swarmstack" / "prod" / "unlock-key"
    local = default_unlock_key_file("dev", local_machine=True)
    assert local.parts[-2:] == ("dev", "unlock-key")


def test_rotating_without_autolock_is_refused_before_connecting() -> None:
    inventory = inventory_from_data(
        {"hosts": [{"address": "198.18.0.11", "role": "manager"}]}, base=Path("/")
    )
    with pytest.raises(UsageError, match="autolock: false"):
        converge(ClusterSpec.model_validate({}), inventory, rotate_unlock_key=True)


def test_unlock_refuses_a_bad_name_and_a_missing_key(tmp_path: Path) -> None:
    runner = CliRunner()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: [{address: 198.18.0.11, role: manager}]\n")
    bad = runner.invoke(cli, ["unlock", "-i", str(inventory), "--name", "../../tmp"])
    assert bad.exit_code == 2
    assert "--name '../../tmp'" in bad.output
    missing = runner.invoke(
        cli, ["unlock", "-i", str(inventory), "--unlock-key-file", str(tmp_path / "none")]
    )
    assert missing.exit_code == 2
    assert "no unlock key at" in missing.output
    assert "Traceback" not in bad.output + missing.output
