"""Records on an Azure instance's serial console: found among boot noise, the last one wins,
and waiting for them ends in a clear timeout."""

from __future__ import annotations

import json

import pytest

from swarmstack.azure.node_records import NodeRecord, last_record, wait_for_records
from swarmstack.errors import NodesSilent

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGs1rOh6gVbqOvmLSmDlSZh5jB0m7u1iXJTOYpsmpPy0"


def line(instance: str, ready: bool, keys: str = KEY) -> str:
    body = {"instance": instance, "role": "worker", "zone": "1", "address": "10.0.0.5",
            "ready": ready, "host_keys": keys}  # fmt: skip
    return f"swarmstack-node {json.dumps(body)}"


def test_the_last_record_of_the_instance_wins_among_noise() -> None:
    console = "\n".join(
        [
            "[    0.000000] Linux version 6.1.0-26-cloud-amd64",
            line("swarm-workers_0", ready=False),
            "ci-info: no authorized SSH keys fingerprints found for user admin.",
            line("swarm-workers_1", ready=True),  # another instance's (a reused disk image)
            "[  12.3] systemd[1]: Started swarmstack-agent.service",
            line("swarm-workers_0", ready=True)[:60],  # cut off by a reset: not a record
            line("swarm-workers_0", ready=True),
            # Logged by some other program: not at the start of a line, so not a record.
            "<14>Dec  2 00:30:01 host logger: " + line("swarm-workers_0", True, "ssh-ed25519 X"),
        ]
    )
    assert last_record(console, "swarm-workers_0") == NodeRecord(
        "swarm-workers_0", "worker", "10.0.0.5", "1", ready=True, host_keys=KEY
    )
    assert last_record(console, "swarm-workers_7") is None
    assert last_record("", "swarm-workers_0") is None


def test_a_record_whose_ready_is_not_true_is_not_ready() -> None:
    text = line("swarm-workers_0", ready=False).replace("false", '"yes"')
    record = last_record(text, "swarm-workers_0")
    assert record is not None
    assert not record.ready


def test_waiting_reports_progress_and_ends_with_the_silent_instances() -> None:
    now = [0.0]
    said: list[str] = []
    records = {"a_0": NodeRecord("a_0", "manager", "10.0.0.4", "1", True, KEY)}
    with pytest.raises(NodesSilent) as caught:
        wait_for_records(
            records.get,
            ["a_0", "a_1"],
            ready=True,
            timeout=30,
            poll=10,
            info=said.append,
            clock=lambda: now[0],
            sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
        )
    assert str(caught.value) == "1 of 2 node(s) were not Ready in the swarm within 30s: a_1"
    assert said == ["waiting for 1 node(s) Ready in the swarm (1/2)"] * 3


def test_waiting_for_host_keys_accepts_a_record_that_is_not_ready_yet() -> None:
    record = NodeRecord("a_0", "manager", "10.0.0.4", "1", False, KEY)
    found = wait_for_records({"a_0": record}.get, ["a_0"], ready=False, timeout=0)
    assert found == {"a_0": record}
    with pytest.raises(NodesSilent, match="not Ready in the swarm within 0s: a_0"):
        wait_for_records({"a_0": record}.get, ["a_0"], ready=True, timeout=0)
