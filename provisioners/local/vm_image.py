"""A disk image for machines that run their own kernel (qemu), for what the container machines'
shared kernel cannot give: this host's kernel has no NFS client, so a service volume on shared
storage (EFS, Azure Files) can only be mounted in a machine with a kernel of its own.

The image is the base image (images.py) plus Debian's cloud kernel, its initramfs and nfs-common,
written into an ext4 file that each machine boots through a copy-on-write overlay. Per-machine
facts (name, address, host key, authorised key, /etc/hosts lines) come from a small seed disk
that a boot unit applies before sshd and dockerd start.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .images import (
    STAMP,
    Progress,
    base_image_path,
    build_variant,
    ensure_base_image,
    install_in_chroot,
    write_file,
)
from .run import run

VM_RECIPE_VERSION = 1
# apparmor: the kernel enables it, and dockerd then needs apparmor_parser (as on cloud images).
VM_PACKAGES = ("linux-image-cloud-amd64", "initramfs-tools", "nfs-common", "apparmor")
DISK_SIZE = "4G"  # sparse: the file holds what the tree holds, the rest is room for docker
SEED_DEVICE = "/dev/vdb"  # the second virtio disk
SEED_SCRIPT = "apply.sh"
SEED_UNIT = f"""\
[Unit]
Description=Apply this machine's seed disk (name, address, keys)
DefaultDependencies=no
BindsTo=dev-vdb.device
After=dev-vdb.device local-fs.target
Before=ssh.service docker.service containerd.service network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=/bin/mkdir -p /run/seed
ExecStartPre=/bin/mount -o ro {SEED_DEVICE} /run/seed
ExecStart=/bin/sh /run/seed/{SEED_SCRIPT}

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True)
class VmImage:
    disk: Path  # raw ext4 root file system; machines boot overlays of it, never the file itself
    kernel: Path
    initrd: Path


def vm_image_path() -> Path:
    return paths.IMAGES / f"{base_image_path().name}-vm-r{VM_RECIPE_VERSION}"


def _image_in(directory: Path) -> VmImage:
    return VmImage(directory / "disk.img", directory / "vmlinuz", directory / "initrd.img")


def ensure_vm_image(progress: Progress) -> VmImage:
    """The cached VM image; built from the base image (apt from the host's mirror) once."""
    target = vm_image_path()
    if (target / STAMP).exists():
        return _image_in(target)
    base = ensure_base_image(progress)

    def build(tmp: Path) -> None:
        root = tmp / "root"
        run(["cp", "-a", "--reflink=auto", f"{base}/.", str(root)], timeout=600)
        (root / STAMP).unlink()
        install_in_chroot(root, VM_PACKAGES, progress)
        _customise(root)
        image = _image_in(tmp)
        # Debian links /vmlinuz and /initrd.img to the installed kernel's files.
        shutil.copyfile(root / "vmlinuz", image.kernel)
        shutil.copyfile(root / "initrd.img", image.initrd)
        run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(image.disk),
             DISK_SIZE], timeout=600)  # fmt: skip
        shutil.rmtree(root)

    build_variant(target, "VM image", {"recipe": VM_RECIPE_VERSION, "base": base.name},
                  build, progress)  # fmt: skip
    return _image_in(target)


def _customise(root: Path) -> None:
    units = root / "etc/systemd/system"
    write_file(units / "swarmstack-seed.service", SEED_UNIT)
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "swarmstack-seed.service").symlink_to("/etc/systemd/system/swarmstack-seed.service")
    # A real kernel's cgroup v2 needs no remount (that unit is for nspawn's read-only v1).
    (wants / "swarmstack-cgroup-rw.service").unlink(missing_ok=True)


def write_seed_disk(path: Path, script: str) -> None:
    """A small ext4 image holding the shell script that the seed unit runs as root at boot."""
    with tempfile.TemporaryDirectory() as tree:
        (Path(tree) / SEED_SCRIPT).write_text(script)
        run(["mkfs.ext4", "-q", "-F", "-d", tree, str(path), "8M"])
