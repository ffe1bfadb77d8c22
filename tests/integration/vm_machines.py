"""Machines with a kernel of their own (qemu) on a bridge of 198.18.0.0/16, for what the
container machines cannot do: this host's kernel has no NFS client, so volumes on shared
storage are mounted only inside these.

Each machine boots an overlay of the cached VM image (provisioners/local/vm_image.py) with a
seed disk that gives it its name, address, SSH host key, the test's authorised key and extra
/etc/hosts lines. Host keys are made here and pinned in known_hosts before boot: SSH to the
machines is strictly verified, never trusted on first use.

qemu runs with TCG (software emulation): nested KVM on the development machine stalls in the
guest kernel's decompressor, while TCG boots a machine to sshd in about 20 s.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import paramiko

from swarmstack.provisioners.local import busybox_image, network
from swarmstack.provisioners.local.images import SSH_USER
from swarmstack.provisioners.local.plan import SUBNETS, bridge_address, subnet
from swarmstack.provisioners.local.run import run
from swarmstack.provisioners.local.vm_image import VmImage, ensure_vm_image, write_seed_disk

from .conftest import connect_strictly
from .conftest import run as run_over
from .running import stop, wait_until

MEMORY_MIB = 1024
BOOT_TIMEOUT = 240.0
FIRST_HOST = 21


@dataclass
class VirtualMachine:
    name: str
    address: str
    tap: str
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def console(self) -> Path:
        return self.directory / "console.log"


def _free_subnet_from_the_top() -> int:
    """A /24 no bridge on this host uses, from the top: local clusters take theirs from 0 up."""
    used = network.subnets_in_use()
    return next(i for i in reversed(range(SUBNETS)) if i not in used)


def _keygen(path: Path) -> str:
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)])
    return path.with_suffix(".pub").read_text().strip()


class VirtualMachines:
    """``count`` machines named PREFIX-1.. on their own bridge, booted by start(); close()
    removes the machines, their taps and the bridge with its forwarding rules (use with
    running.started)."""

    def __init__(self, prefix: str, count: int, workdir: Path) -> None:
        self.prefix = prefix
        self.workdir = workdir
        self.hosts: dict[str, str] = {}  # extra /etc/hosts lines (name -> address), set before boot
        self.subnet_index = _free_subnet_from_the_top()
        self.bridge_address = bridge_address(self.subnet_index)
        network_address = subnet(self.subnet_index).network_address
        self.machines = [
            VirtualMachine(
                name=f"{prefix}-{n}",
                address=str(network_address + FIRST_HOST + n),
                tap=f"sst{self.subnet_index}-{n}",
                directory=workdir / f"{prefix}-{n}",
            )
            for n in range(1, count + 1)
        ]
        self.ssh_key = workdir / "id_ed25519"
        self.known_hosts = workdir / "known_hosts"

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        image = ensure_vm_image(print)
        self.workdir.mkdir(parents=True, exist_ok=True)
        authorised = _keygen(self.ssh_key)
        network.ensure_bridge(self.prefix, self.subnet_index)
        pinned = []
        for machine in self.machines:
            machine.directory.mkdir(parents=True)
            host_key = _keygen(machine.directory / "ssh_host_ed25519_key")
            pinned.append(f"{machine.address} {' '.join(host_key.split()[:2])}")
            write_seed_disk(machine.directory / "seed.img", self._seed(machine, authorised))
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image.disk),
                 str(machine.directory / "root.qcow2")])  # fmt: skip
            run(["ip", "tuntap", "add", "dev", machine.tap, "mode", "tap"])
            run(["ip", "link", "set", machine.tap, "master", network.bridge_name(self.subnet_index),
                 "up"])  # fmt: skip
            machine.process = subprocess.Popen(
                self._qemu(machine, image), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        self.known_hosts.write_text("\n".join(pinned) + "\n")
        self._wait_for_ssh()

    def _seed(self, machine: VirtualMachine, authorised: str) -> str:
        key = (machine.directory / "ssh_host_ed25519_key").read_text()
        hosts = "".join(f"{address} {name}\n" for name, address in self.hosts.items())
        home = f"/home/{SSH_USER}"
        return f"""set -eu
hostname {machine.name}
echo {machine.name} > /etc/hostname
printf '127.0.1.1 {machine.name}\\n{hosts}' >> /etc/hosts
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
ip addr add {machine.address}/24 dev "$nic"
ip link set "$nic" up
ip link set lo up
cat > /etc/ssh/ssh_host_ed25519_key <<'KEY'
{key.strip()}
KEY
chmod 600 /etc/ssh/ssh_host_ed25519_key
echo 'HostKey /etc/ssh/ssh_host_ed25519_key' > /etc/ssh/sshd_config.d/seed.conf
install -d -m 700 -o {SSH_USER} -g {SSH_USER} {home}/.ssh
echo {shlex.quote(authorised)} > {home}/.ssh/authorized_keys
chown {SSH_USER}:{SSH_USER} {home}/.ssh/authorized_keys
"""

    def _qemu(self, machine: VirtualMachine, image: VmImage) -> list[str]:
        mac = f"52:54:00:12:{self.subnet_index:02x}:{FIRST_HOST + self.machines.index(machine):02x}"
        return [
            "qemu-system-x86_64",
            "-name", machine.name,
            "-accel", "tcg,thread=multi",
            "-smp", "2",
            "-m", str(MEMORY_MIB),
            "-nodefaults", "-display", "none", "-no-reboot",
            "-kernel", str(image.kernel),
            "-initrd", str(image.initrd),
            "-append", "root=/dev/vda rw console=ttyS0 panic=-1",
            "-drive", f"file={machine.directory / 'root.qcow2'},if=virtio,format=qcow2",
            "-drive", f"file={machine.directory / 'seed.img'},if=virtio,format=raw,readonly=on",
            "-netdev", f"tap,id=net0,ifname={machine.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net0,mac={mac}",
            "-serial", f"file:{machine.console}",
            "-monitor", "none",
        ]  # fmt: skip

    def _wait_for_ssh(self) -> None:
        waiting = list(self.machines)

        def all_up() -> bool:
            for machine in list(waiting):
                assert machine.process is not None
                if machine.process.poll() is not None:
                    error = machine.process.stderr.read().decode() if machine.process.stderr else ""
                    raise RuntimeError(f"qemu of {machine.name} exited: {error.strip()}")
                with contextlib.suppress(OSError, EOFError, paramiko.SSHException, AssertionError):
                    self.run(machine.name, "systemctl is-active docker", timeout=20)
                    waiting.remove(machine)
            return not waiting

        try:
            wait_until(all_up, BOOT_TIMEOUT, "sshd and dockerd on every machine", every=3)
        except AssertionError as error:
            tails = "".join(self.console_tail(m) for m in waiting)
            raise AssertionError(f"{error}: {[m.name for m in waiting]} not up{tails}") from None

    def close(self) -> None:
        for machine in self.machines:
            stop(machine.process)
            run(["ip", "link", "del", machine.tap], check=False)
        network.remove_bridge(self.prefix, self.subnet_index)
        for machine in self.machines:
            shutil.rmtree(machine.directory, ignore_errors=True)

    # --- use -----------------------------------------------------------------------------

    def machine(self, name: str) -> VirtualMachine:
        return next(m for m in self.machines if m.name == name)

    def connect(self, name: str) -> paramiko.SSHClient:
        return connect_strictly(
            self.machine(name).address, SSH_USER, self.ssh_key, self.known_hosts
        )

    def run(self, name: str, command: str, timeout: float = 120) -> str:
        """A command as root on the machine; its stdout (an AssertionError if it fails)."""
        with contextlib.closing(self.connect(name)) as client:
            return run_over(client, f"sudo sh -c {shlex.quote(command)}", timeout)

    def load_busybox(self, name: str, tag: str) -> None:
        """The test image (swarmstack/busybox) into the machine's dockerd, also tagged ``tag``:
        the machines have no registry to pull from."""
        with (
            contextlib.closing(self.connect(name)) as client,
            contextlib.closing(client.open_sftp()) as sftp,
        ):
            sftp.put(str(busybox_image()), "/tmp/busybox.tar")
        self.run(
            name, f"docker load -i /tmp/busybox.tar && docker tag swarmstack/busybox:latest {tag}"
        )

    def console_tail(self, machine: VirtualMachine, lines: int = 15) -> str:
        try:
            text = machine.console.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"\n--- {machine.name} console ---\n" + "\n".join(text)

    def inventory(self, roles: dict[str, str]) -> dict[str, object]:
        """`swarmstack bootstrap -i` inventory: machine name -> role."""
        return {
            "ssh": {
                "user": SSH_USER,
                "key": str(self.ssh_key),
                "known_hosts": str(self.known_hosts),
            },
            "hosts": [
                {"address": m.address, "role": roles[m.name], "hostname": m.name}
                for m in self.machines
            ],
        }
