"""The SSH form of the host tuning: one marker file with one digest, and a script that never
goes through a fixed /tmp path."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from swarmstack.cloudinit import ssh_tuning
from swarmstack.contract import STATE_DIR, TUNING_MARKER
from swarmstack.provisioners import tuning
from swarmstack.provisioners.facts import FACTS_COMMAND, parse_facts, tuning_digest
from swarmstack.spec import ClusterSpec

# Pools inside the benchmark range, so that the local machines' form is allowed too.
SPEC = ClusterSpec.model_validate(
    {"enable_system_prune": True, "default_addr_pool": ["198.19.0.0/18"]}
)


def marker_written_by(script: str) -> str:
    """The JSON line the script writes into the marker (its last file write)."""
    (line,) = [ln for ln in script.splitlines() if ln.endswith(f">{TUNING_MARKER}")]
    words = shlex.split(line.removesuffix(f">{TUNING_MARKER}"))
    assert words[0] == "echo"
    return words[1]


@pytest.mark.parametrize("role", ["manager", "worker"])
@pytest.mark.parametrize("local_machine", [False, True])
def test_the_digest_the_ssh_side_expects_is_the_one_the_script_records(
    role: Any, local_machine: bool
) -> None:
    script = ssh_tuning(SPEC, role, local_machine=local_machine)
    marker = marker_written_by(script.text)
    assert json.loads(marker)["tuning"] == script.digest
    assert tuning_digest(marker) == script.digest
    assert tuning.digest(tuning.tuning_script_for(SPEC, role, local_machine=local_machine)) == (
        script.digest
    )


def test_the_digest_changes_when_the_tuning_changes() -> None:
    plain = ssh_tuning(SPEC, "worker").digest
    without_prune = ssh_tuning(SPEC.model_copy(update={"enable_system_prune": False}), "worker")
    assert plain != without_prune.digest


@pytest.mark.parametrize(
    "marker",
    [
        "",
        # An older build's SSH marker: the sha256 of the script, on a line of its own.
        "3f0a9c5e1b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e",
        "garbage",
        "{not json",
        '{"role": "manager"}',
        '{"tuning": 42}',
        '{"tuning": ""}',
        '{"tuning": "abc; rm -rf /"}',
        '["tuning", "abc"]',
    ],
)
def test_a_marker_in_any_other_form_means_not_tuned(marker: str) -> None:
    assert tuning_digest(marker) == ""


def test_facts_read_the_digest_from_the_contract_marker() -> None:
    assert TUNING_MARKER in FACTS_COMMAND
    text = '@@hostname\nh1\n@@tuning\n{"role": "worker", "tuning": "0123abcd"}\n@@nodocker\n'
    facts = parse_facts("198.18.0.12", text)
    assert facts.tuning_digest == "0123abcd"
    legacy = parse_facts("198.18.0.12", "@@hostname\nh1\n@@tuning\n0123abcd\n@@nodocker\n")
    assert legacy.tuning_digest == ""


@dataclass
class FakeConnection:
    calls: list[dict[str, Any]] = field(default_factory=list)

    def run(self, command: str, **options: Any) -> None:
        self.calls.append({"command": command, **options})


def test_the_script_is_streamed_on_stdin_and_never_touches_tmp() -> None:
    script = ssh_tuning(SPEC, "manager")
    connection = FakeConnection()
    tuning.apply_tuning(connection, script)  # type: ignore[arg-type]
    (call,) = connection.calls
    assert call["stdin"] == script.text
    assert call["mutating"] is True
    assert "/tmp" not in call["command"]
    assert "TMPDIR" not in call["command"]
    assert f"mktemp -d {STATE_DIR}/" in call["command"]


def run_apply(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    """APPLY_COMMAND as the host runs it, with its state directory moved under tmp_path."""
    command = tuning.APPLY_COMMAND.replace(shlex.quote(STATE_DIR), shlex.quote(str(tmp_path)))
    assert STATE_DIR not in command
    return subprocess.run(
        ["sh", "-c", f"umask 022; {command}"],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_apply_command_runs_the_whole_script_from_a_private_directory(tmp_path: Path) -> None:
    script = (
        "#!/bin/bash\nset -euo pipefail\n"
        # A command that reads stdin must not swallow the rest of the script.
        'seen=$(cat); echo "stdin:[$seen]"\n'
        'echo "dir:$(dirname "$0")"\n'
        'stat -c %a "$(dirname "$0")"\n'
        # The script runs with the caller's umask, not the private directory's mode.
        "umask\n"
        "echo last line ran\n"
    )
    result = run_apply(tmp_path, script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "stdin:[]"
    assert lines[1].startswith(f"dir:{tmp_path}/tuning.")
    assert lines[2] == "700"
    assert lines[3] == "0022"
    assert lines[4] == "last line ran"
    assert list(tmp_path.iterdir()) == []  # the private directory is gone


def test_a_failing_script_fails_the_apply_and_leaves_nothing(tmp_path: Path) -> None:
    result = run_apply(tmp_path, "#!/bin/bash\necho partial\nexit 3\n")
    assert result.returncode == 3
    assert list(tmp_path.iterdir()) == []


def test_a_pre_created_tmp_file_cannot_block_or_replace_the_script(tmp_path: Path) -> None:
    # The old fixed path: whatever sits there is neither run nor in the way.
    planted = tmp_path / "swarmstack-tuning.sh"
    planted.write_text("echo planted\n")
    result = run_apply(tmp_path, "echo real\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "real\n"
    assert list(tmp_path.iterdir()) == [planted]
