"""The local cluster state file: round trip, atomic write, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmstack.errors import LocalProviderError
from swarmstack.provisioners.local import state
from swarmstack.provisioners.local.images import debian_mirror
from swarmstack.provisioners.local.plan import plan_scale


def test_round_trip(tmp_path: Path) -> None:
    machines = plan_scale([], 3, 2, 4).target
    original = state.ClusterState("demo", 4, "/var/cache/img", machines)
    path = tmp_path / "demo" / "state.json"
    state.save(path, original)
    assert state.load(path) == original
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp file left


def test_missing_file_is_no_cluster(tmp_path: Path) -> None:
    assert state.load(tmp_path / "nope.json") is None


@pytest.mark.parametrize(
    "text",
    ["not json", '{"version": 99}', '{"version": 1, "name": "x"}',
     '{"version": 1, "name": "x", "subnet_index": 0, "image": "/i", "machines": '
     '[{"name": "a", "role": "boss", "index": 1, "address": "198.18.0.11"}]}'],
)  # fmt: skip
def test_a_broken_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(LocalProviderError, match=r"state.json: not a valid local cluster state"):
        state.load(path)


def test_mirror_comes_from_the_hosts_apt_sources(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
    )
    assert debian_mirror((deb822,)) == "http://mirror.example/debian"
    classic = tmp_path / "sources.list"
    classic.write_text(
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://classic.example/debian bookworm main\n"
    )
    assert debian_mirror((tmp_path / "missing", classic)) == "http://classic.example/debian"
    assert debian_mirror((tmp_path / "missing",)) == "http://deb.debian.org/debian"
