"""`LocalCluster`: a set of local machines that `up` creates, scales and `down` removes.

    cluster = LocalCluster.up(3, 2)            # idempotent; other counts scale
    cluster.machines                           # Machine(name, role, index, address), zone
    cluster.inventory()                        # what the SSH bootstrap needs
    cluster.down()

Scaling down: `up` calls `before_remove(cluster, leaving)` while every machine still runs, so
the caller can drain, demote and remove the leaving nodes from the swarm first; only then are
they powered off. All state lives in /var/lib/swarmstack/local/<name>/.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ...errors import LocalProviderError, UsageError, as_written
from ...spec import NAME
from . import cgroups, host, images, keys, machine, network, paths, state
from .machine import MachineFiles
from .plan import (
    FIRST_HOST,
    LAST_HOST,
    Machine,
    Role,
    ScalePlan,
    bridge_address,
    free_subnet,
    plan_scale,
    subnet,
)
from .run import require_host_tools, require_root

Progress = Callable[[str], None]
BeforeRemove = Callable[["LocalCluster", Sequence[Machine]], None]
BOOT_TIMEOUT = 180.0
REBOOT_TIMEOUT = 180.0
RUNNING_GRACE = 30.0  # a running machine that still has no sshd after this is restarted
PARALLEL = 16


def _quiet(_message: str) -> None:
    pass


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise UsageError(
            f"--name={as_written(name)}: must be 1-32 characters of lowercase letters, digits "
            "and hyphens, starting with a letter and not ending with a hyphen"
        )


def cluster_names() -> list[str]:
    """Local clusters that have state on this host."""
    if not paths.STATE_ROOT.exists():
        return []
    return sorted(p.parent.name for p in paths.STATE_ROOT.glob("*/state.json"))


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """One `up`/`down` per cluster at a time."""
    paths.STATE_ROOT.mkdir(parents=True, exist_ok=True)
    with (paths.STATE_ROOT / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _parallel(work: Callable[[Machine], None], machines: Sequence[Machine]) -> None:
    """Run `work` for each machine concurrently; re-raise the first failure."""
    if not machines:
        return
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(machines))) as pool:
        for future in [pool.submit(work, m) for m in machines]:
            future.result()


class LocalCluster:
    """A named set of local machines with their SSH key, known_hosts and network."""

    ssh_user = images.SSH_USER

    def __init__(self, cluster_state: state.ClusterState, progress: Progress = _quiet) -> None:
        self._state = cluster_state
        self.progress = progress
        # Seconds of the last `up`: "boot" until every machine's supervisor runs (files,
        # overlay mount, network), "ssh" from then until every sshd answers.
        self.timings: dict[str, float] = {}

    # --- construction --------------------------------------------------------------------

    @classmethod
    def open(cls, name: str = "local", *, progress: Progress = _quiet) -> LocalCluster:
        """The existing cluster `name`; a clear error when there is none."""
        check_name(name)
        loaded = state.load(paths.STATE_ROOT / name / "state.json")
        if loaded is None:
            raise LocalProviderError(
                f"no local cluster named {name}",
                hint=f"create it with: swarmstack local up --name {name}",
            )
        return cls(loaded, progress)

    @classmethod
    def exists(cls, name: str = "local") -> bool:
        check_name(name)  # the name becomes a path: never look outside STATE_ROOT
        return (paths.STATE_ROOT / name / "state.json").exists()

    @classmethod
    def up(
        cls,
        managers: int,
        workers: int,
        *,
        name: str = "local",
        progress: Progress = _quiet,
        before_remove: BeforeRemove | None = None,
    ) -> LocalCluster:
        """Make the cluster have exactly these machines, all running and answering SSH.

        Idempotent: machines that exist are kept (and started if they were stopped); missing
        ones are created; surplus ones (highest numbers first) are handed to `before_remove`
        and then powered off and deleted.
        """
        check_name(name)
        plan_scale([], managers, workers, 0)  # bad counts fail before anything is touched
        require_root("swarmstack local up")
        require_host_tools()
        host.ensure_limits(progress)
        with _locked(name):
            cluster = cls._load_or_create(name, progress)
            plan = cluster.plan_scale(managers, workers)
            cluster._apply(plan)
            if plan.remove:
                if before_remove is not None:
                    before_remove(cluster, plan.remove)
                cluster._remove(plan.remove)
            return cluster

    @classmethod
    def open_or_create(cls, name: str, image: Path, *, progress: Progress = _quiet) -> LocalCluster:
        """The cluster `name` (created empty, with its own /24, when missing) whose new
        machines boot from `image`, with its bridge up and its SSH key made; for callers
        that make machines themselves (the AWS simulation). Needs root."""
        check_name(name)
        require_root("swarmstack local up")
        require_host_tools()
        host.ensure_limits(progress)
        with _locked(name):
            cluster = cls._load_or_create(name, progress, image)
            keys.ensure_key_pair(cluster.ssh_key_path, f"swarmstack-local-{name}")
            network.ensure_bridge(name, cluster._state.subnet_index)
            return cluster

    @classmethod
    def _load_or_create(
        cls, name: str, progress: Progress, image: Path | None = None
    ) -> LocalCluster:
        state_file = paths.STATE_ROOT / name / "state.json"
        loaded = state.load(state_file)
        if loaded is not None and (Path(loaded.image) / images.STAMP).exists():
            return cls(loaded, progress)
        image = image or images.ensure_base_image(progress)
        if loaded is not None:  # its image was removed: new machines get the current one
            loaded.image = str(image)
            return cls(loaded, progress)
        with _locked("-new-cluster"):  # two new clusters must not pick the same /24
            used = network.subnets_in_use()
            images_in_use = {image}
            for other in cluster_names():
                other_state = state.load(paths.STATE_ROOT / other / "state.json")
                if other_state is not None:
                    used.add(other_state.subnet_index)
                    images_in_use.add(Path(other_state.image))
            for old in images.remove_unused_images(images_in_use):
                progress(f"removed the outdated base image {old}")
            created = state.ClusterState(name, free_subnet(used), str(image))
            state.save(state_file, created)
        return cls(created, progress)

    # --- what callers read ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._state.name

    @property
    def machines(self) -> tuple[Machine, ...]:
        """Managers first, then workers, each by number."""
        return self._state.machines

    @property
    def managers(self) -> tuple[Machine, ...]:
        return tuple(m for m in self.machines if m.role == "manager")

    @property
    def workers(self) -> tuple[Machine, ...]:
        return tuple(m for m in self.machines if m.role == "worker")

    @property
    def dir(self) -> Path:
        return paths.STATE_ROOT / self.name

    @property
    def ssh_key_path(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def ssh_config_path(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def network(self) -> str:
        return str(subnet(self._state.subnet_index))

    @property
    def bridge(self) -> str:
        return network.bridge_name(self._state.subnet_index)

    @property
    def gateway(self) -> str:
        """The host's own address on the cluster network."""
        return bridge_address(self._state.subnet_index)

    def machine(self, name: str) -> Machine:
        for candidate in self.machines:
            if candidate.name == name:
                return candidate
        known = ", ".join(m.name for m in self.machines) or "none"
        raise UsageError(f"NAME={name}: no such machine in cluster {self.name} (have: {known})")

    def plan_scale(self, managers: int, workers: int) -> ScalePlan:
        """What `up(managers, workers)` would add and remove (pure; changes nothing)."""
        return plan_scale(self.machines, managers, workers, self._state.subnet_index)

    def inventory(self) -> dict[str, Any]:
        """The SSH bootstrap's inventory (same shape as `swarmstack bootstrap -i` files)."""
        return {
            "ssh": {
                "user": self.ssh_user,
                "key": str(self.ssh_key_path),
                "known_hosts": str(self.known_hosts_path),
                "port": machine.SSH_PORT,
                "bastion": None,
            },
            "hosts": [
                {"address": m.address, "role": m.role, "zone": m.zone, "hostname": m.name}
                for m in self.machines
            ],
        }

    def _files(self, m: Machine) -> MachineFiles:
        return machine.MachineFiles(self.dir, m)

    def is_running(self, name: str) -> bool:
        return machine.supervisor_pid(self._files(self.machine(name))) is not None

    def status(self) -> list[dict[str, Any]]:
        """One row per machine: name, role, zone, address, state (running, stopped or
        orphaned), ssh (the banner answered) and memory_mib (the machine's cgroup)."""
        rows = []
        for m in self.machines:
            running = machine.supervisor_pid(self._files(m)) is not None
            orphaned = not running and bool(cgroups.pids(self.name, m.name))
            answers = (running or orphaned) and _ssh_banner(m.address)
            memory = cgroups.memory_bytes(self.name, m.name) if running or orphaned else None
            rows.append(
                {
                    "name": m.name,
                    "role": m.role,
                    "zone": m.zone,
                    "address": m.address,
                    # orphaned: its supervisor is gone (a reboot would not bring it back);
                    # `local up` restarts it.
                    "state": "running" if running else "orphaned" if orphaned else "stopped",
                    "ssh": "ok" if answers else "-",
                    "memory_mib": None if memory is None else round(memory / 2**20),
                }
            )
        return rows

    # --- changes -------------------------------------------------------------------------

    def _save(self) -> None:
        state.save(self.dir / "state.json", self._state)

    def _apply(self, plan: ScalePlan) -> None:
        image = Path(self._state.image)
        public_key = keys.ensure_key_pair(self.ssh_key_path, f"swarmstack-local-{self.name}")
        network.ensure_bridge(self.name, self._state.subnet_index)
        # Record new machines before creating them, so `down` finds a half-made one.
        self._state.machines = (*plan.keep, *plan.remove, *plan.add)
        self._state.machines = tuple(sorted(self._state.machines, key=_order))
        self._save()
        everything = self.machines
        to_start = [m for m in everything if machine.supervisor_pid(self._files(m)) is None]
        if plan.add:
            names = ", ".join(m.name for m in plan.add)
            self.progress(f"creating {len(plan.add)} machine(s): {names}")
        started = time.monotonic()
        booted = [started]  # when each machine's supervisor ran (appends are thread-safe)

        def boot(m: Machine) -> None:
            files = self._files(m)
            if m not in to_start:
                # Running already: it may be booting (a reboot), or hung before sshd came up.
                try:
                    machine.wait_for_ssh(m, files, time.monotonic() + RUNNING_GRACE)
                    return
                except LocalProviderError:
                    self.progress(f"  {m.name} runs but does not answer SSH: restarting it")
                    machine.stop(self.name, files, m)
            machine.prepare(files, m, image, self.ssh_user, public_key)
            machine.start(self.name, self._state.subnet_index, files, m)
            booted.append(time.monotonic())
            machine.wait_for_ssh(m, files, time.monotonic() + BOOT_TIMEOUT)
            self.progress(f"  {m.name} {m.address} answers SSH")

        if to_start:
            self.progress(f"booting {len(to_start)} machine(s) on {self.network}")
        try:
            _parallel(boot, everything)
        except LocalProviderError as exc:
            # Nothing half-made is left unsaid: the state file knows every machine.
            raise LocalProviderError(
                *exc.problems,
                f"the machines of cluster {self.name} are left as they are",
                hint=(f"{exc.hint}; " if exc.hint else "")
                + f"re-run `swarmstack local up --name {self.name}` to retry, "
                f"or `swarmstack local down --name {self.name}` to remove them",
            ) from exc
        self.timings = {"boot": max(booted) - started, "ssh": time.monotonic() - max(booted)}
        if to_start:
            self.progress(f"machines up in {time.monotonic() - started:.1f} s")
        self._write_ssh_files()

    def _remove(self, leaving: Sequence[Machine]) -> None:
        self.progress("removing " + ", ".join(m.name for m in leaving))
        _parallel(
            lambda m: machine.destroy(self.name, self._state.subnet_index, self._files(m), m),
            leaving,
        )
        gone = {m.name for m in leaving}
        self._state.machines = tuple(m for m in self.machines if m.name not in gone)
        self._save()
        self._write_ssh_files()

    def _write_ssh_files(self, *, booted_only: bool = False) -> None:
        """known_hosts and ssh_config; `booted_only` leaves out machines still booting
        (no host key yet) instead of failing."""
        entries = [
            (m, machine.host_key(self._files(m)))
            for m in self.machines
            if not booted_only or self._files(m).host_key.exists()
        ]
        keys.write_atomic(self.known_hosts_path, keys.known_hosts_text(entries))
        keys.write_atomic(
            self.ssh_config_path,
            keys.ssh_config_text(
                self.machines, self.ssh_user, self.ssh_key_path, self.known_hosts_path
            ),
        )

    def boot_machine(
        self,
        role: Role,
        name: str,
        *,
        before_boot: Callable[[Path], None] | None = None,
        api_vfs_writable: str = "1",
    ) -> Machine:
        """Create one more machine called `name` (the next free address and number of its
        role) and boot it until it answers SSH. `before_boot(root)` may write into its root
        file system first (the AWS simulation puts cloud-init's seed there)."""
        with _locked(self.name):
            index = 1 + max((m.index for m in self.machines if m.role == role), default=0)
            used = {m.host_number for m in self.machines}
            host = next(h for h in range(FIRST_HOST, LAST_HOST + 1) if h not in used)
            address = str(subnet(self._state.subnet_index).network_address + host)
            new = Machine(name, role, index, address)
            self._state.machines = tuple(sorted((*self.machines, new), key=_order))
            self._save()  # recorded before it exists, so `down` finds a half-made one
        public_key = keys.ensure_key_pair(self.ssh_key_path, f"swarmstack-local-{self.name}")
        network.ensure_bridge(self.name, self._state.subnet_index)
        files = self._files(new)
        machine.prepare(files, new, Path(self._state.image), self.ssh_user, public_key)
        if before_boot is not None:
            before_boot(files.root)
        machine.start(
            self.name, self._state.subnet_index, files, new, api_vfs_writable=api_vfs_writable
        )
        machine.wait_for_ssh(new, files, time.monotonic() + BOOT_TIMEOUT)
        with _locked(self.name):
            self._write_ssh_files(booted_only=True)
        return new

    def remove_machine(self, name: str) -> None:
        """Power one machine off and delete it and every trace of it."""
        gone = self.machine(name)
        machine.destroy(self.name, self._state.subnet_index, self._files(gone), gone)
        with _locked(self.name):
            self._state.machines = tuple(m for m in self.machines if m.name != name)
            self._save()
            self._write_ssh_files(booted_only=True)

    def down(self) -> None:
        """Power off and delete every machine, the network, cgroups and the cluster's state."""
        require_root("swarmstack local down")
        with _locked(self.name):
            if self.machines:
                self.progress(f"powering off {len(self.machines)} machine(s)")
            _parallel(
                lambda m: machine.destroy(self.name, self._state.subnet_index, self._files(m), m),
                self.machines,
            )
            network.remove_bridge(self.name, self._state.subnet_index)
            cgroups.remove(self.name)
            shutil.rmtree(self.dir, ignore_errors=True)
            self._state.machines = ()

    # --- helpers for tests and `local ssh` -----------------------------------------------

    def ssh_command(
        self, name: str, command: Sequence[str] = (), *, tty: bool = False
    ) -> list[str]:
        """An OpenSSH command line to the machine with strict host key checking."""
        target = self.machine(name)
        return [
            "ssh",
            "-i", str(self.ssh_key_path),
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts_path}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=5",
            "-o", "LogLevel=ERROR",
            *(["-t"] if tty else []),
            f"{self.ssh_user}@{target.address}",
            *command,
        ]  # fmt: skip

    def ssh(
        self, name: str, command: str, *, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command on a machine as the sudo user; output captured."""
        result = subprocess.run(
            self.ssh_command(name, [command]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise LocalProviderError(
                f"{name}: `{command}` failed (exit {result.returncode}): "
                + (detail[-1] if detail else "no output")
            )
        return result

    def boot_id(self, name: str) -> str:
        """Changes on every boot (/proc/uptime is the host's inside these machines)."""
        return self.ssh(name, "cat /proc/sys/kernel/random/boot_id").stdout.strip()

    def reboot(self, name: str, *, timeout: float = REBOOT_TIMEOUT) -> None:
        """`systemctl reboot` inside the machine; returns once it is back and answers SSH."""
        before = self.boot_id(name)
        self.ssh(name, "sudo systemctl reboot", check=False, timeout=30)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                result = self.ssh(name, "cat /proc/sys/kernel/random/boot_id", check=False)
            except subprocess.TimeoutExpired:
                continue
            if result.returncode == 0 and result.stdout.strip() not in ("", before):
                return
        raise LocalProviderError(f"{name} did not come back within {timeout:.0f} s of a reboot")

    def stop_service(self, name: str, *units: str) -> None:
        """`systemctl stop UNITS` on the machine. Docker fully: "docker.socket", "docker"
        (with the socket left active, the next API call starts docker again)."""
        self.ssh(name, "sudo systemctl stop " + " ".join(shlex.quote(u) for u in units))

    def start_service(self, name: str, *units: str) -> None:
        self.ssh(name, "sudo systemctl start " + " ".join(shlex.quote(u) for u in units))

    def power_off(self, name: str) -> None:
        """Power one machine off, keeping its disk; it stops answering on its address
        (an unreachable host). `up` with the same counts boots it again."""
        target = self.machine(name)
        machine.stop(self.name, self._files(target), target)

    def leftovers(self) -> list[str]:
        """What of this cluster is still on the host (empty after a clean `down`)."""
        found = [f"namespace {ns}" for ns in network.namespaces_of(self.name)]
        bridge = self.bridge
        if Path("/sys/class/net", bridge).exists():
            found.append(f"bridge {bridge}")
        found += [f"iptables {rule}" for rule in network.rules_of(self.name)]
        found += [f"cgroup {path}" for path in cgroups.exists(self.name)]
        with open("/proc/self/mountinfo") as mountinfo:
            found += [
                f"mount {line.split()[4]}" for line in mountinfo if str(self.dir) in line.split()[4]
            ]
        found += [f"process {pid}" for pid in cgroups.pids(self.name)]
        found += [f"process {pid} ({command})" for pid, command in _processes_under(self.dir)]
        if self.dir.exists():
            found.append(f"directory {self.dir}")
        return found


def _order(m: Machine) -> tuple[bool, int]:
    return (m.role != "manager", m.index)


def _ssh_banner(address: str) -> bool:
    try:
        with socket.create_connection((address, machine.SSH_PORT), timeout=1) as conn:
            conn.settimeout(2)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _processes_under(directory: Path) -> list[tuple[int, str]]:
    """Processes whose command line names a path in `directory` (supervisors, nspawn)."""
    marker = str(directory) + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(marker in word for word in words):
            found.append((int(entry.name), " ".join(words[:3])))
    return found
