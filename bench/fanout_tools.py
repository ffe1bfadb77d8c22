"""bench/fanout.py's other tools: pyinfra and Ansible on the same hosts, and how any tool's
process tree is measured from outside (CPU from wait4, peak RSS and threads sampled from /proc).

The tools come from a bench-only virtualenv (never the project's dependencies):

    python3 -m venv /tmp/fanout-tools && /tmp/fanout-tools/bin/pip install pyinfra ansible-core
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SAMPLE_SECONDS = 0.1  # the sampler runs in the harness: its CPU is not the tool's


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float  # user + system of the tool and every descendant it waited for
    peak_pss_mib: float  # the whole process tree's memory (PSS), summed
    peak_threads: int  # threads of every process in the tree, summed
    returncode: int
    stdout: str
    stderr: str


def measure(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` and measure its whole process tree."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    out: list[str] = []
    err: list[str] = []
    readers = [_drain(process.stdout, out), _drain(process.stderr, err)]
    peak_memory = peak_threads = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        memory, threads = _tree(process.pid)
        peak_memory, peak_threads = max(peak_memory, memory), max(peak_threads, threads)
        time.sleep(SAMPLE_SECONDS)
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    return Measured(
        wall_s=round(time.monotonic() - started, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        peak_pss_mib=round(peak_memory / 1024, 1),
        peak_threads=peak_threads,
        returncode=process.returncode,
        stdout="".join(out),
        stderr="".join(err),
    )


def _drain(stream: IO[str] | None, into: list[str]) -> threading.Thread:
    def read() -> None:
        if stream is not None:
            into.append(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def _tree(root: int) -> tuple[int, int]:
    """Memory (KiB, PSS: shared pages split between the processes that share them, so forks
    are not counted many times) and threads of ``root`` and all its descendants, summed."""
    memory = threads = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue  # exited meanwhile
        memory += sum(
            int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")
        )
        threads += sum(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:")
        )
    return memory, threads


def pyinfra_command(
    tools: Path, folder: Path, addresses: list[str], known_hosts: Path, parallel: int
) -> list[str]:
    """`pyinfra INVENTORY exec -- echo ok`, host keys checked strictly against known_hosts."""
    inventory = folder / "pyinfra_inventory.py"
    inventory.write_text(
        # a group is (hosts, data); the data applies to each of its hosts
        f"hosts = ({addresses!r}, {{'ssh_user': 'root', "
        f"'ssh_key': {str(folder / 'user_ed25519')!r}, "
        f"'ssh_known_hosts_file': {str(known_hosts)!r}, "
        "'ssh_strict_host_key_checking': 'yes'})\n"
    )
    return [
        str(tools / "bin" / "pyinfra"), "-y", "--parallel", str(parallel),
        str(inventory), "exec", "--", "echo", "ok",
    ]  # fmt: skip


def ansible_command(
    tools: Path, folder: Path, addresses: list[str], known_hosts: Path, forks: int
) -> tuple[list[str], dict[str, str]]:
    """`ansible all -m command -a 'echo ok'` with --forks, pipelining and strict host keys."""
    inventory = folder / "ansible_hosts.ini"
    inventory.write_text(
        "[all]\n"
        + "".join(f"{a}\n" for a in addresses)
        + "[all:vars]\nansible_user=root\n"
        + f"ansible_ssh_private_key_file={folder / 'user_ed25519'}\n"
        + "ansible_python_interpreter=/usr/bin/python3\n"
        + f"ansible_ssh_common_args='-o UserKnownHostsFile={known_hosts} "
        + "-o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null'\n"
    )
    env = os.environ | {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_LOCAL_TEMP": str(folder / "ansible-tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(folder / "ansible-cp"),
        "ANSIBLE_NOCOLOR": "1",
        # No ControlPersist masters: they would outlive the run (uncounted) and hold sshd
        # sessions into the next round. One command per host needs one connection per host.
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }
    command = [
        str(tools / "bin" / "ansible"), "all", "-i", str(inventory),
        "-m", "command", "-a", "echo ok", "--forks", str(forks),
    ]  # fmt: skip
    return command, env
