"""A failed step is one line naming the step, its host and the reason (never the command's
text, which for update-many runs to thousands of characters); node updates that race the
managers ("update out of sequence") are retried on a fresh read of the node."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from swarmstack.errors import RemoteCommandFailed
from swarmstack.provisioners import bootstrap, commands, outcome
from swarmstack.provisioners.commands import step_commands
from swarmstack.provisioners.connections import HostConnections
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.progress import NullProgress
from swarmstack.provisioners.ssh import CommandResult, brief_command
from swarmstack.provisioners.swarm import Plan, Step
from swarmstack.spec import ClusterSpec

ANCHOR = "198.18.0.11"
WORKERS = [f"198.18.0.{20 + i}" for i in range(17)]
OUT_OF_SEQUENCE = (
    "Error response from daemon: rpc error: code = Unknown desc = update out of sequence"
)
TOKEN = "SWMTKN-1-" + "a" * 50 + "-" + "b" * 25


@dataclass
class FakeConnection:
    """Answers every command with one canned result (or raises one error)."""

    address: str
    status: int = 0
    stderr: str = ""
    raises: Exception | None = None
    ran: list[str] = field(default_factory=list)
    history: list[Any] = field(default_factory=list)

    def run(self, command: str, **_: Any) -> CommandResult:
        self.ran.append(command)
        if self.raises is not None:
            raise self.raises
        return CommandResult(command, self.status, "", self.stderr, 0.01)

    def close(self) -> None:
        pass


def labels_plan() -> Plan:
    updates = [
        {"address": w, "node": f"w{i}", "labels_add": {"swarmstack.role": "worker"}}
        for i, w in enumerate(WORKERS)
    ]
    step = Step("update-many:workers", "update-many", ANCHOR, "workers", {"updates": updates})
    return Plan((step,), ANCHOR, "cluster", ())


def join_plan() -> Plan:
    join = Step(
        f"join:{WORKERS[0]}",
        "join",
        WORKERS[0],
        WORKERS[0],
        {"advertise_addr": WORKERS[0], "remote": [ANCHOR], "role": "worker"},
    )
    return Plan((join,), ANCHOR, "cluster", ())


def run_with(connection: FakeConnection, plan: Plan) -> RemoteCommandFailed:
    hosts = [{"address": ANCHOR, "role": "manager"}] + [
        {"address": w, "role": "worker"} for w in WORKERS
    ]
    inventory = inventory_from_data({"hosts": hosts}, base=Path("/"))
    run = bootstrap._Run(ClusterSpec.model_validate({}), inventory, NullProgress(), 8, None)
    run.hosts = HostConnections(lambda address: connection, keep=8)  # type: ignore[arg-type,return-value]
    run._secrets.update(worker=TOKEN, manager=TOKEN)
    try:
        with pytest.raises(RemoteCommandFailed) as caught:
            run.execute(plan)
    finally:
        run.close()
    return caught.value


def test_a_failed_label_step_is_one_short_line_naming_step_host_and_reason() -> None:
    connection = FakeConnection(ANCHOR, status=1, stderr=f"noise\n{OUT_OF_SEQUENCE}\n")
    error = run_with(connection, labels_plan())
    assert len(connection.ran[0]) > 2000  # the command itself is long ...
    (line,) = error.problems  # ... the error is one line
    assert line.startswith(f"{ANCHOR}: step update-many (labels of 17 nodes) failed (exit 1): ")
    assert OUT_OF_SEQUENCE in line
    assert "0 of 1 steps were done" in line
    assert "docker node update" not in line
    assert len(line) < 300


def test_a_failed_join_names_the_joining_host_and_hides_the_token() -> None:
    connection = FakeConnection(WORKERS[0], status=1, stderr=f"join failed with {TOKEN}")
    (line,) = run_with(connection, join_plan()).problems
    assert line.startswith(f"{WORKERS[0]}: step join of {WORKERS[0]} (as worker) failed (exit 1)")
    assert "SWMTKN-1-" + "a" * 10 not in line
    assert "curl" not in line


def test_a_broken_channel_names_the_step_not_the_command() -> None:
    long_command = step_commands(labels_plan().steps[0])[0].run
    # As provisioners.ssh words it: the command cut to its first 80 characters.
    shown = brief_command(long_command)
    broke = RemoteCommandFailed(f"{ANCHOR}: `{shown}` failed: the SSH channel broke (EOF)")
    (line,) = run_with(FakeConnection(ANCHOR, raises=broke), labels_plan()).problems
    assert line.startswith(f"{ANCHOR}: step update-many (labels of 17 nodes) failed: ")
    assert "the SSH channel broke" in line
    assert len(line) < 200


def test_a_long_reason_is_cut() -> None:
    reason = outcome.failure_reason("x" * 5000, "", secret_output=False)
    assert len(reason) == outcome.MAX_REASON
    assert outcome.failure_reason("", "secret", secret_output=True) == "no output"


# --- the retry, run by a real shell against a stand-in docker -------------------------


def stand_in_docker(tmp_path: Path, failures: int, message: str) -> Path:
    """A `docker` that fails ``failures`` times per node with ``message``, then succeeds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(
        "#!/bin/sh\n"
        'node=$(eval echo \\${$#}); f="' + str(tmp_path) + '/calls.$node"\n'
        'echo x >> "$f"; n=$(wc -l < "$f")\n'
        f'if [ "$n" -le {failures} ]; then echo "{message}" >&2; exit 1; fi\n'
        'echo "$node"\n'
    )
    script.chmod(0o755)
    return bin_dir


def run_shell(command: str, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    sh = shutil.which("sh")
    assert sh is not None
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(
        [sh, "-c", command], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def calls(tmp_path: Path) -> dict[str, int]:
    return {
        p.name.removeprefix("calls."): len(p.read_text().splitlines())
        for p in tmp_path.glob("calls.*")
    }


def cli_labels_plan() -> Plan:
    """Updates that remove a label: those go through the docker CLI (labels added go through
    the Engine API: test_node_labels_api.py)."""
    (step,) = labels_plan().steps
    updates = [{**u, "labels_rm": ["swarmstack.zone"]} for u in step.args["updates"]]
    return Plan((Step(step.id, step.action, step.host, step.target, {"updates": updates}),),
                ANCHOR, "cluster", ())  # fmt: skip


def test_update_many_retries_out_of_sequence_on_a_fresh_read(tmp_path: Path) -> None:
    (command,) = step_commands(cli_labels_plan().steps[0])
    done = run_shell(command.run, stand_in_docker(tmp_path, 2, OUT_OF_SEQUENCE))
    assert done.returncode == 0, done.stderr
    # Every node was read and written again (the CLI re-reads the node's version each time).
    assert calls(tmp_path) == {f"w{i}": 3 for i in range(17)}


def test_update_many_fails_at_once_on_any_other_error(tmp_path: Path) -> None:
    (command,) = step_commands(cli_labels_plan().steps[0])
    failed = run_shell(command.run, stand_in_docker(tmp_path, 99, "Error: permission denied"))
    assert failed.returncode == 1
    assert "Error: permission denied" in failed.stderr
    assert calls(tmp_path) == {f"w{i}": 1 for i in range(17)}


# --- what init and join read back through the Engine API, cut out by the shell ----------

WORKER_TOKEN = "SWMTKN-1-" + "1" * 50 + "-" + "w" * 25
MANAGER_TOKEN = "SWMTKN-1-" + "1" * 50 + "-" + "m" * 25
SWARM_JSON = (
    '{"ID":"cluster1","Version":{"Index":10},"JoinTokens":{"Worker":"' + WORKER_TOKEN
    + '","Manager":"' + MANAGER_TOKEN + '"},"SubnetSize":24}'
)  # fmt: skip
INFO_JSON = (
    '{"ID":"engine1","Name":"w1","Swarm":{"NodeID":"node123","NodeAddr":"198.18.0.20",'
    '"LocalNodeState":"active","ControlAvailable":false,"RemoteManagers":[{"NodeID":"mgr1",'
    '"Addr":"198.18.0.11:2377"}]},"ServerVersion":"20.10.24"}'
)


def stand_in_curl(tmp_path: Path) -> Path:
    """A `curl` answering the Engine API paths init and join use (POSTs answer 200)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "swarm.json").write_text(SWARM_JSON)
    (tmp_path / "info.json").write_text(INFO_JSON)
    script = bin_dir / "curl"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do url=$a; done\n'
        'case "$url" in\n'
        "  */swarm/init|*/swarm/join) cat >/dev/null; printf ' 200';;\n"
        f"  */swarm) cat {tmp_path}/swarm.json;;\n"
        f"  */info) cat {tmp_path}/info.json;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return bin_dir


def test_init_prints_both_join_tokens_from_one_api_read(tmp_path: Path) -> None:
    init = Step(
        "init:a", "init", ANCHOR, ANCHOR,
        {"advertise_addr": ANCHOR, "default_addr_pool": ["198.19.0.0/18"],
         "default_addr_pool_mask_length": 24, "data_path_port": 4789,
         "cert_expiry_hours": 2160, "autolock": False},
    )  # fmt: skip
    (command,) = step_commands(init)
    done = run_shell(command.run, stand_in_curl(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"worker {WORKER_TOKEN}", f"manager {MANAGER_TOKEN}"]
    assert "SWMTKN" not in command.run


def test_a_worker_join_prints_its_own_node_id_not_a_managers(tmp_path: Path) -> None:
    (command,) = step_commands(join_plan().steps[0])
    done = run_shell(command.run, stand_in_curl(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "node123"


def test_a_join_docker_timed_out_on_is_waited_for_until_the_node_is_active(
    tmp_path: Path,
) -> None:
    """On a busy swarm the daemon answers a join with "Timeout was reached before node joined"
    and goes on in the background: the step waits for the node instead of failing."""
    bin_dir = stand_in_curl(tmp_path)
    pending = INFO_JSON.replace('"active"', '"pending"')
    (tmp_path / "bin" / "curl").write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do url=$a; done\n'
        'case "$url" in\n'
        "  */swarm/join) cat >/dev/null; printf '%s 503' "
        '\'{"message":"Timeout was reached before node joined. The attempt to join the swarm '
        "will continue in the background.\"}';;\n"
        f'  */info) echo x >> {tmp_path}/reads; if [ "$(wc -l < {tmp_path}/reads)" -le 2 ]; '
        f"then printf '%s' '{pending}'; else cat {tmp_path}/info.json; fi;;\n"
        "esac\n"
    )
    (command,) = step_commands(join_plan().steps[0])
    done = run_shell(command.run, bin_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "node123"
    assert len((tmp_path / "reads").read_text().splitlines()) == 4  # 2 pending, active, the id


def test_any_other_join_error_fails_at_once_with_the_daemons_message(tmp_path: Path) -> None:
    bin_dir = stand_in_curl(tmp_path)
    (tmp_path / "bin" / "curl").write_text(
        "#!/bin/sh\ncat >/dev/null; printf '%s 400' '{\"message\":\"invalid join token\"}'\n"
    )
    (command,) = step_commands(join_plan().steps[0])
    failed = run_shell(command.run, bin_dir)
    assert failed.returncode == 1
    assert failed.stderr.strip() == '{"message":"invalid join token"}'


def timed_out_join_daemon(tmp_path: Path, active_after_leave: bool) -> Path:
    """A daemon whose first join times out and never finishes in the background; after a
    leave, a join succeeds (``active_after_leave``) or times out again. `sleep` costs nothing."""
    bin_dir = stand_in_curl(tmp_path)
    pending = INFO_JSON.replace('"active"', '"pending"')
    timeout_body = (
        '{"message":"Timeout was reached before node joined. The attempt to join the swarm '
        'will continue in the background."}'
    )
    joined = "200" if active_after_leave else "503"
    (bin_dir / "curl").write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do url=$a; done\n'
        f'echo "$url" >> {tmp_path}/calls\n'
        'case "$url" in\n'
        f"  */swarm/join) cat >/dev/null; if [ -e {tmp_path}/left ]; then "
        f"touch {tmp_path}/joined; printf '%s {joined}' '{timeout_body}'; "
        f"else printf '%s 503' '{timeout_body}'; fi;;\n"
        f"  */swarm/leave*) touch {tmp_path}/left;;\n"
        f"  */info) if [ -e {tmp_path}/joined ] && [ {joined} = 200 ]; then "
        f"cat {tmp_path}/info.json; else printf '%s' '{pending}'; fi;;\n"
        "esac\n"
    )
    (bin_dir / "sleep").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sleep").chmod(0o755)
    return bin_dir


def api_calls(tmp_path: Path) -> list[str]:
    return [
        line.removeprefix("http://localhost")
        for line in (tmp_path / "calls").read_text().splitlines()
        if not line.endswith("/info")
    ]


def test_a_worker_join_that_never_finishes_leaves_and_joins_again(tmp_path: Path) -> None:
    """Docker timed out and its background attempt never made the node active: after
    WORKER_JOIN_WAIT the worker leaves and sends the same join again (body kept by the shell)."""
    bin_dir = timed_out_join_daemon(tmp_path, active_after_leave=True)
    (command,) = step_commands(join_plan().steps[0])
    done = run_shell(command.run, bin_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "node123"
    assert api_calls(tmp_path) == ["/swarm/join", "/swarm/leave?force=1", "/swarm/join"]


def test_a_worker_join_gives_up_after_its_attempts(tmp_path: Path) -> None:
    bin_dir = timed_out_join_daemon(tmp_path, active_after_leave=False)
    (command,) = step_commands(join_plan().steps[0])
    failed = run_shell(command.run, bin_dir)
    assert failed.returncode == 1
    attempts = commands.WORKER_JOIN_ATTEMPTS
    assert failed.stderr.strip() == (
        f"the node did not join in {attempts} attempts (docker timed out each time; waited "
        f"{commands.WORKER_JOIN_WAIT:.0f} s, then left and joined again)"
    )
    assert api_calls(tmp_path).count("/swarm/join") == attempts
    assert api_calls(tmp_path).count("/swarm/leave?force=1") == attempts - 1


def test_a_manager_join_docker_timed_out_on_is_waited_for_never_left(tmp_path: Path) -> None:
    """A manager may already be a raft member: leaving would leave a dead member behind."""
    bin_dir = timed_out_join_daemon(tmp_path, active_after_leave=True)
    (worker,) = join_plan().steps
    args = {**worker.args, "role": "manager"}
    manager = Step(worker.id, "join", worker.host, worker.target, args)
    (command,) = step_commands(manager)
    failed = run_shell(command.run, bin_dir)
    assert failed.returncode == 1
    assert "did not join within 120 s" in failed.stderr
    assert api_calls(tmp_path) == ["/swarm/join"]
