"""`local up` raises the host-wide kernel limits the machines share - never lowers them."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmstack.provisioners.local import host


@pytest.fixture
def fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    def path(key: str) -> Path:
        return tmp_path.joinpath(*key.split("."))

    for key in host.MINIMUMS:
        path(key).parent.mkdir(parents=True, exist_ok=True)
        path(key).write_text("128\n")
    monkeypatch.setattr(host, "_path", path)
    return tmp_path


def test_the_neighbour_table_is_raised_for_a_50_node_swarm(fake_proc: Path) -> None:
    said: list[str] = []
    host.ensure_limits(said.append)
    thresh3 = fake_proc / "net/ipv4/neigh/default/gc_thresh3"
    # 50 machines, every node a neighbour of every other, twice over (swarm and overlay).
    assert int(thresh3.read_text()) >= 2 * 50 * 50
    assert any("gc_thresh3 from 128 to" in line for line in said)


def test_a_higher_limit_is_left_alone(fake_proc: Path) -> None:
    thresh3 = fake_proc / "net/ipv4/neigh/default/gc_thresh3"
    thresh3.write_text("99999\n")
    said: list[str] = []
    host.ensure_limits(said.append)
    assert thresh3.read_text() == "99999\n"
    assert not any("gc_thresh3" in line for line in said)
