"""bench/bootstrap.py's Ansible baseline: the same swarm formed by an Ansible playbook.

The local machines have no python3 (Debian minbase with docker.io, curl and sshd), so no
Ansible module that needs Python on the target runs there - community.docker.docker_swarm
needs Python and the Docker SDK on each host. The playbook therefore uses Ansible's ``raw``
module (a command over SSH, no Python on the host) to run the docker commands that
docker_swarm's typical playbook amounts to, in the usual order:

1. the first manager: ``docker swarm init`` (same address pool as swarmstack), then both join
   tokens (registered, ``no_log``);
2. the other managers join one at a time (``serial: 1``: raft membership changes one by one);
3. then every worker joins at once (``--forks`` 50);
4. the first manager labels every node (swarmstack.role, swarmstack.zone: the labels
   swarmstack sets) in one raw task, and waits until `docker node ls` shows every node Ready.

The join token is in argv here (a known gap, kept for what the baseline stands for): a ``raw``
task's text is the command line of the shell it runs on the host (and of ``ssh`` on the
controller), and ``raw`` has no stdin and moves no file, so the token cannot reach the host any
other way while the baseline stays ``raw``. docker_swarm itself sends the token in the Engine
API's request body, as swarmstack does (on stdin over SSH); reaching that here would take the
``script`` or ``copy`` modules (a file transfer per host that docker_swarm does not make), which
would time a slower playbook than the one this stands for. The exposure: while a join runs (about
a second), any local user of a bench machine - a throwaway local machine reachable only from this
host - could read the token in /proc; the tasks are ``no_log``, so Ansible's output never holds it.

Become: the machines' SSH user reaches root through ``sudo -n``. Host keys are checked
against the cluster's known_hosts (StrictHostKeyChecking=yes). SSH connections are reused
within the run (ControlMaster/ControlPersist, Ansible's default); the masters are closed when
the run ends. Ansible comes from a bench-only virtualenv (never the project's dependencies):

    python3 -m venv /tmp/fanout-tools && /tmp/fanout-tools/bin/pip install ansible-core
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from swarmstack.contract import LABEL_ROLE, LABEL_ZONE, SWARM_PORT
from swarmstack.provisioners.inventory import Inventory
from swarmstack.provisioners.local import (
    SWARM_DEFAULT_ADDR_POOL,
    SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
)

FORKS = 50
TIMEOUT = 600.0  # seconds for one playbook run


def playbook(inventory: Inventory, hostnames: dict[str, str]) -> list[dict[str, object]]:
    """The plays, as data (written as JSON, which is YAML)."""
    first = inventory.managers[0].address

    def join(role: str) -> str:
        # The token is in argv here (see the module's docstring: raw has no stdin).
        token = f"hostvars['{first}']['{role}_token'].stdout | trim"
        return "docker swarm join --token {{ " + token + " }} " + f"{first}:{SWARM_PORT}"

    labels = " && ".join(
        f"docker node update --label-add {LABEL_ROLE}={h.role}"
        + (f" --label-add {LABEL_ZONE}={h.zone}" if h.zone else "")
        + f" {hostnames[h.address]} >/dev/null"
        for h in inventory.hosts
    )
    count = len(inventory.hosts)
    ready = (
        "for i in $(seq 600); do "
        "[ \"$(docker node ls --format '{{ '{{' }}.Status{{ '}}' }}' | grep -c '^Ready$')\" "
        f"= {count} ] && exit 0; sleep 0.2; done; exit 1"
    )
    return [
        {
            "hosts": "first",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "init",
                    "raw": f"docker swarm init --advertise-addr {first} --default-addr-pool "
                    f"{SWARM_DEFAULT_ADDR_POOL} --default-addr-pool-mask-length "
                    f"{SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH}",
                },
                {
                    "name": "manager token",
                    "raw": "docker swarm join-token -q manager",
                    "register": "manager_token",
                    "no_log": True,
                },
                {
                    "name": "worker token",
                    "raw": "docker swarm join-token -q worker",
                    "register": "worker_token",
                    "no_log": True,
                },
            ],
        },
        {
            "hosts": "joining_managers",
            "gather_facts": False,
            "serial": 1,
            "tasks": [{"name": "join", "raw": join("manager"), "no_log": True}],
        },
        {
            "hosts": "workers",
            "gather_facts": False,
            "tasks": [{"name": "join", "raw": join("worker"), "no_log": True}],
        },
        {
            "hosts": "first",
            "gather_facts": False,
            "tasks": [
                {"name": "labels", "raw": labels},
                {"name": "every node Ready", "raw": ready},
            ],
        },
    ]


def inventory_text(inventory: Inventory) -> str:
    groups = {
        "first": [inventory.managers[0]],
        "joining_managers": list(inventory.managers[1:]),
        "workers": list(inventory.workers),
    }
    ssh = inventory.ssh
    lines = []
    for name, hosts in groups.items():
        lines.append(f"[{name}]")
        lines.extend(h.address for h in hosts)
    lines += [
        "[all:vars]",
        f"ansible_user={ssh.user}",
        f"ansible_port={ssh.port}",
        f"ansible_ssh_private_key_file={ssh.key}",
        f"ansible_become={'false' if ssh.user == 'root' else 'true'}",
        "ansible_become_method=sudo",
        f"ansible_ssh_common_args='-o UserKnownHostsFile={ssh.known_hosts} "
        "-o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null'",
    ]
    return "\n".join(lines) + "\n"


def run_playbook(
    tools: Path, folder: Path, inventory: Inventory, hostnames: dict[str, str]
) -> float:
    """Form the swarm with ansible-playbook; returns the wall time (the whole process, from
    start to exit). Raises RuntimeError with the last lines of its output if it failed."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts.ini").write_text(inventory_text(inventory))
    (folder / "swarm.yml").write_text(json.dumps(playbook(inventory, hostnames), indent=1))
    control = folder / "cp"
    control.mkdir(exist_ok=True)
    env = os.environ | {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_LOCAL_TEMP": str(folder / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    command = [
        str(tools / "bin" / "ansible-playbook"), "-i", str(folder / "hosts.ini"),
        "--forks", str(FORKS), str(folder / "swarm.yml"),
    ]  # fmt: skip
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    finally:
        close_masters(control)
    wall = time.monotonic() - started
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"ansible-playbook exited {done.returncode}: {tail[:300]}")
    return wall


def close_masters(control: Path) -> None:
    """End the SSH connection masters this run left (ControlPersist), through their sockets."""
    for socket in control.iterdir():
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "unused"],
            capture_output=True,
            timeout=10,
            check=False,
        )
