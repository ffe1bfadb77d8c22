"""Secrets on real hosts: join tokens stay out of every process list; the unlock key is kept,
rotated, and brings restarted (locked) managers back through `swarmstack unlock`."""

from __future__ import annotations

import json
import logging
import stat
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.errors import SwarmError
from swarmstack.provisioners.bootstrap import converge
from swarmstack.provisioners.local import LocalCluster, cgroups

from .test_swarm_bootstrap import SPEC, docker, form, inventory_of, node_list, swarm, wait_for

__all__ = ["swarm"]  # the fixture, shared with test_swarm_bootstrap.py


class ProcessScanner(threading.Thread):
    """Reads every machine process's command line and environment, over and over."""

    def __init__(self, cluster: str) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.done = threading.Event()
        self.scans = 0
        self.join_requests = 0  # curl processes seen posting a join: the scan saw the joins
        self.leaks: list[str] = []

    def run(self) -> None:
        while not self.done.is_set():
            for pid in cgroups.pids(self.cluster):
                for part in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{pid}/{part}").read_bytes()
                    except OSError:
                        continue  # the process is gone
                    if b"SWMTKN" in data:
                        shown = data.replace(b"\0", b" ")[:60].decode(errors="replace")
                        self.leaks.append(f"pid {pid} {part}: {shown}...")
                    if part == "cmdline" and b"curl" in data and b"/swarm/join" in data:
                        self.join_requests += 1
            self.scans += 1

    def stop(self) -> None:
        self.done.set()
        self.join()


def test_no_join_token_in_any_process_list_or_environment_during_a_bootstrap(
    swarm: LocalCluster,
) -> None:
    # Every node leaves: the bootstrap inits a new swarm and joins managers and workers.
    for machine in (*swarm.workers, *swarm.managers):
        docker(swarm, machine.name, "swarm leave --force >/dev/null")
    scanner = ProcessScanner(swarm.name)
    scanner.start()
    try:
        result = form(swarm)
    finally:
        scanner.stop()
    assert result.changed
    assert len(result.nodes) == len(swarm.machines)
    assert scanner.scans > 20
    assert scanner.join_requests > 0, "the scan must have seen the joins it checks"
    assert scanner.leaks == []


def test_autolock_keeps_the_key_and_unlock_brings_restarted_managers_back(
    swarm: LocalCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="swarmstack")
    key_file = tmp_path / "cluster" / "unlock-key"
    locked = SPEC.model_copy(update={"autolock": True})
    anchor = swarm.managers[0].name

    turned_on = converge(locked, inventory_of(swarm), local_machine=True, unlock_key_file=key_file)
    assert turned_on.unlock_key_saved
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text().strip()
    assert first == docker(swarm, anchor, "swarm unlock-key -q").strip()

    rotated = converge(
        locked,
        inventory_of(swarm),
        local_machine=True,
        unlock_key_file=key_file,
        rotate_unlock_key=True,
    )
    key = key_file.read_text().strip()
    assert key.startswith("SWMKEY-1-")
    assert key != first
    assert key == docker(swarm, anchor, "swarm unlock-key -q").strip()
    for result in (turned_on, rotated):
        shown = repr(result) + json.dumps(result.to_dict())
        shown += "\n".join(c.command for c in result.commands)
        assert first not in shown + caplog.text
        assert key not in shown + caplog.text

    # Docker restarts on two of the three managers: they come back locked.
    restarted = swarm.managers[1:]
    for machine in restarted:
        swarm.ssh(machine.name, "sudo systemctl restart docker")

    def all_locked() -> bool:
        states = [
            docker(swarm, m.name, "info --format '{{.Swarm.LocalNodeState}}'").strip()
            for m in restarted
        ]
        return states == ["locked"] * len(restarted)

    wait_for(all_locked, 60, "the restarted managers to be locked")
    with pytest.raises(SwarmError, match="swarmstack unlock"):
        converge(locked, inventory_of(swarm), local_machine=True, unlock_key_file=key_file)

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(swarm.inventory()))
    outcome = CliRunner().invoke(
        cli,
        ["-o", "json", "unlock", "-i", str(inventory), "--unlock-key-file", str(key_file)],
    )
    assert outcome.exit_code == 0, outcome.output
    assert key not in outcome.output
    unlocked = json.loads(outcome.stdout)
    assert sorted(unlocked["unlocked"]) == sorted(m.address for m in restarted)
    assert unlocked["not_locked"] == [swarm.managers[0].address]

    def all_ready() -> bool:
        try:
            nodes = node_list(swarm)
        except Exception:  # no quorum yet: the node list fails
            return False
        ready = {n["Hostname"] for n in nodes if n["Status"] == "Ready"}
        return ready == {m.name for m in swarm.machines}

    wait_for(all_ready, 90, "every node Ready after the unlock")
    assert form(swarm).changed  # autolock off again for the other tests
