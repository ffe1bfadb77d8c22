"""One local machine's lifecycle on the host: files, overlay mount, supervisor process, SSH
banner, host key, teardown.

Layout under /var/lib/swarmstack/local/<cluster>/machines/<name>/:
    upper/ work/   the overlay's writable layer over the shared base image
    root/          the mounted root file system systemd-nspawn boots
    docker/        bind-mounted as /var/lib/docker (overlay2 cannot nest in an overlay)
    supervisor.json, supervisor.pid, console.log
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

from ...errors import LocalProviderError
from . import cgroups, detached, network
from .plan import Machine
from .run import run

SSH_PORT = 22
STOP_TIMEOUT = 45.0
# The machines' sshd needs one host key (ed25519, the one known_hosts lists). The image's
# `ssh-keygen -A` also makes an RSA key on first boot: about 0.7 s of CPU per machine, 35 s for
# 50 machines booting at once on two cores. This drop-in (same name, in the machine's own
# layer) makes the ed25519 key only, and sshd loads only that one.
SSH_KEYGEN_DROPIN = """\
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c '[ -s /etc/ssh/ssh_host_ed25519_key ] || \
/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
ExecStartPre=/usr/sbin/sshd -t
"""
SSHD_HOST_KEY = "HostKey /etc/ssh/ssh_host_ed25519_key\n"


class MachineFiles:
    """Paths of one machine's files on the host."""

    def __init__(self, cluster_dir: Path, machine: Machine) -> None:
        self.dir = cluster_dir / "machines" / machine.name
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.root = self.dir / "root"
        self.docker = self.dir / "docker"
        self.config = self.dir / "supervisor.json"
        self.pid = self.dir / "supervisor.pid"
        self.console = self.dir / "console.log"

    @property
    def host_key(self) -> Path:
        return self.upper / "etc/ssh/ssh_host_ed25519_key.pub"


NSPAWN_PROPAGATE = Path("/run/systemd/nspawn/propagate")


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == target for line in mountinfo)


def _owner(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise LocalProviderError(f"the base image has no user {user}; remove its cache to rebuild")


def prepare(
    files: MachineFiles, machine: Machine, image: Path, ssh_user: str, public_key: str
) -> None:
    """Mount the machine's root and write what makes it this machine: hostname, hosts, key."""
    for directory in (files.upper, files.work, files.root, files.docker):
        directory.mkdir(parents=True, exist_ok=True)
    if not is_mounted(files.root):
        options = f"lowerdir={image},upperdir={files.upper},workdir={files.work}"
        run(["mount", "-t", "overlay", "overlay", "-o", options, str(files.root)])
    root = files.root
    (root / "etc/hostname").write_text(f"{machine.name}\n")
    (root / "etc/hosts").write_text(
        f"127.0.0.1 localhost\n{machine.address} {machine.name}\n"
        "::1 localhost ip6-localhost ip6-loopback\n"
    )
    uid, gid = _owner(root, ssh_user)
    ssh_dir = root / "home" / ssh_user / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(public_key.strip() + "\n")
    for path in (ssh_dir, keys):
        os.chown(path, uid, gid)
    keys.chmod(0o600)
    _one_host_key(root)


def _one_host_key(root: Path) -> None:
    dropin = root / "etc/systemd/system/ssh.service.d/keygen.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(SSH_KEYGEN_DROPIN)
    config = root / "etc/ssh/sshd_config.d/swarmstack-host-key.conf"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(SSHD_HOST_KEY)


def supervisor_pid(files: MachineFiles) -> int | None:
    """The running supervisor's pid, or None (a stale pid file is ignored)."""
    return detached.running_pid(files.pid, files.config)


def start(
    cluster: str,
    subnet_index: int,
    files: MachineFiles,
    machine: Machine,
    *,
    api_vfs_writable: str = "1",
) -> None:
    """Network, cgroups and the detached supervisor that boots (and reboots) the machine.

    ``api_vfs_writable`` is nspawn's SYSTEMD_NSPAWN_API_VFS_WRITABLE: "network" leaves only
    /proc/sys/net writable, so boot scripts' vm.*/fs.*/kernel.* sysctls cannot reach the host.
    """
    if supervisor_pid(files) is not None:
        return
    if cgroups.pids(cluster, machine.name):
        # Its supervisor died (killed, host crash) but the machine runs on: it holds the
        # root's lock, so a new nspawn could not boot it. Kill what is left, then start clean.
        cgroups.kill_all(cluster, machine.name)
        deadline = time.monotonic() + 10
        while cgroups.pids(cluster, machine.name) and time.monotonic() < deadline:
            time.sleep(0.1)
    netns = network.ensure_machine_network(cluster, subnet_index, machine)
    paths = cgroups.create(cluster, machine.name)
    config = {
        "name": machine.name,
        "machine": f"{cluster}-{machine.name}",
        "root": str(files.root),
        "netns": netns,
        "docker_data": str(files.docker),
        "cgroups": [str(p) for p in paths],
        "api_vfs_writable": api_vfs_writable,
    }
    files.config.write_text(json.dumps(config, indent=2) + "\n")
    # Its own session, per the recipe; its output is the machine's console log.
    process = detached.start(
        "swarmstack.provisioners.local.supervisor", files.config, files.console, files.pid
    )

    def not_started() -> LocalProviderError:
        return LocalProviderError(
            f"{machine.name}: the supervisor did not start", hint=f"see {files.console}"
        )

    # Until the child has exec'd, its command line is still ours: wait for that moment.
    detached.wait_for(
        lambda: supervisor_pid(files) is not None,
        alive=lambda: process.poll() is None,
        deadline=time.monotonic() + 10,
        interval=0.02,
        died=not_started,
        late=not_started,
    )


def wait_for_ssh(machine: Machine, files: MachineFiles, deadline: float) -> None:
    """Until the machine's sshd sends its banner (the host key exists by then)."""

    def banner() -> bool:
        try:
            with socket.create_connection((machine.address, SSH_PORT), timeout=2) as conn:
                conn.settimeout(5)
                return conn.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    hint = f"its console log: {files.console}"
    detached.wait_for(
        banner,
        alive=lambda: supervisor_pid(files) is not None,
        deadline=deadline,
        interval=0.3,
        died=lambda: LocalProviderError(f"{machine.name} stopped while booting", hint=hint),
        late=lambda: LocalProviderError(
            f"{machine.name} ({machine.address}) did not answer SSH in time", hint=hint
        ),
    )


def host_key(files: MachineFiles) -> str:
    """`ssh-ed25519 AAAA...` as the machine generated it on first boot."""
    try:
        key_type, key, *_ = files.host_key.read_text().split()
    except (OSError, ValueError):
        raise LocalProviderError(f"no SSH host key at {files.host_key}") from None
    return f"{key_type} {key}"


def stop(cluster: str, files: MachineFiles, machine: Machine, *, graceful: bool = True) -> None:
    """Power the machine off (SIGTERM -> clean shutdown), then kill whatever is left.

    Not ``graceful``: kill at once (a machine about to be deleted needs no clean shutdown,
    which takes seconds: systemd stops docker and every unit first).
    """
    pid = supervisor_pid(files)
    if pid is not None and graceful:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while supervisor_pid(files) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    deadline = time.monotonic() + 10
    while cgroups.pids(cluster, machine.name) and time.monotonic() < deadline:
        cgroups.kill_all(cluster, machine.name)  # again: a process may fork while it dies
        time.sleep(0.02)


def destroy(cluster: str, subnet_index: int, files: MachineFiles, machine: Machine) -> None:
    """Kill the machine and remove every trace of it from the host (its disk included, so
    there is nothing a clean shutdown would save)."""
    stop(cluster, files, machine, graceful=False)
    # systemd-nspawn removes its mount-propagation folder only on a clean exit; it was killed.
    shutil.rmtree(NSPAWN_PROPAGATE / f"{cluster}-{machine.name}", ignore_errors=True)
    if is_mounted(files.root):
        run(["umount", str(files.root)])
    left = cgroups.remove(cluster, machine.name)
    if left:
        raise LocalProviderError(f"{machine.name}: cgroups still busy: {left[0]}")
    network.remove_machine_network(cluster, subnet_index, machine)
    if files.dir.exists():
        shutil.rmtree(files.dir)
