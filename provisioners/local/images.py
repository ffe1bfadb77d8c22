"""The machines' base root file system (debootstrap, built once and cached) and a tiny
busybox image tarball for tests.

The base image is built into a temporary directory and renamed into place, so a crash never
leaves a half-built image behind. Its directory name carries RECIPE_VERSION: changing what goes
into the image means bumping the version, and the next `up` builds the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ...cloudinit.tuning import DAEMON_JSON, DOCKER_APPLIED, host_tuning
from ...errors import LocalProviderError
from ...spec import ClusterSpec
from . import paths
from .plan import SWARM_DEFAULT_ADDR_POOL, SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH
from .run import run

# 2: curl (joins go to the Docker API with it; see provisioners/commands.py).
# 3: daemon.json is the host tuning's (no bip of its own).
# 4: the tuning's record that dockerd runs with that daemon.json (no restart at first tuning).
RECIPE_VERSION = 4
SUITE = "bookworm"
PACKAGES = (
    "systemd,systemd-sysv,dbus,openssh-server,docker.io,sudo,iproute2,ca-certificates,"
    "procps,iptables,iputils-ping,curl"
)
SSH_USER = "swarmstack"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SOURCES_FILES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
STAMP = ".swarmstack-image.json"

# Units that make no sense in a container machine, or would reach the network.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "apt-daily.service",
    "apt-daily-upgrade.service",
    "fstrim.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "systemd-networkd.service",
    "systemd-networkd.socket",
    "systemd-networkd-wait-online.service",
    "getty@.service",
    "console-getty.service",
    "systemd-timesyncd.service",
)
# Debian's ssh.service checks the config (`sshd -t`) before host keys exist: make them first.
SSH_KEYGEN_DROPIN = """\
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""
# nspawn mounts the cgroup v1 controllers read-only and runc then cannot create its cgroups;
# a plain `remount,rw` fails with "busy", a bind remount works.
CGROUP_RW_UNIT = """\
[Unit]
Description=Make the cgroup v1 controllers writable for containerd and docker
DefaultDependencies=no
Before=containerd.service docker.service
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$d" || true; done'

[Install]
WantedBy=multi-user.target
"""
SSHD_CONFIG = """\
# swarmstack local machine: keys only.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UseDNS no
"""

Progress = Callable[[str], None]


def debian_mirror(sources: tuple[Path, ...] = SOURCES_FILES) -> str:
    """The Debian mirror this host already uses (deb822 `URIs:` or a one-line `deb` entry)."""
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "URIs:" and "security" not in words[1]:
                return words[1]
            if words and words[0] == "deb":
                uri = next((w for w in words[1:] if "://" in w), "")
                if uri and "security" not in uri:
                    return uri
    return DEFAULT_MIRROR


def base_image_path() -> Path:
    # The package list's digest is part of the name, so that two builds of the same recipe
    # number with different packages (parallel branches) never share an image.
    packages = hashlib.sha256(PACKAGES.encode()).hexdigest()[:8]
    return paths.IMAGES / f"{SUITE}-r{RECIPE_VERSION}-{packages}"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """One builder at a time (two `up`s, or pytest and a user, may race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_base_image(progress: Progress) -> Path:
    """The cached base root file system; builds it (a minute or more) when missing."""
    target = base_image_path()
    if (target / STAMP).exists():
        return target
    with _lock(paths.IMAGES / ".build.lock"):
        if (target / STAMP).exists():
            return target
        for stale in paths.IMAGES.glob(f".{target.name}.*"):  # a build killed half-way
            shutil.rmtree(stale, ignore_errors=True)
        mirror = debian_mirror()
        progress(f"building the base image {target.name} from {mirror} (once; a minute or two)")
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=paths.IMAGES))
        try:
            _debootstrap(tmp, mirror, progress)
            _customise(tmp)
            (tmp / STAMP).write_text(
                json.dumps({"recipe": RECIPE_VERSION, "suite": SUITE, "mirror": mirror}) + "\n"
            )
            if target.exists():  # an unstamped leftover of an older layout
                shutil.rmtree(target)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        progress(f"base image ready in {time.monotonic() - started:.0f} s")
    return target


def remove_unused_images(in_use: set[Path]) -> list[Path]:
    """Delete base images of older recipe versions that no cluster's machines sit on."""
    removed = []
    for image in paths.IMAGES.glob(f"{SUITE}-r*"):
        version = image.name.removeprefix(f"{SUITE}-r")
        # Only older recipes: a newer one belongs to a newer swarmstack on this host.
        older = version.isdigit() and int(version) < RECIPE_VERSION
        if older and image not in in_use and image.is_dir():
            shutil.rmtree(image, ignore_errors=True)
            removed.append(image)
    return removed


def _debootstrap(root: Path, mirror: str, progress: Progress) -> None:
    args = [
        "debootstrap",
        "--variant=minbase",
        f"--include={PACKAGES}",
        SUITE,
        str(root),
        mirror,
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    tail: list[str] = []
    seen: set[str] = set()
    for line in process.stdout:
        tail = [*tail[-20:], line.rstrip()]
        # debootstrap prints "I: Retrieving X", "I: Unpacking X", "I: Configuring X"... per
        # package: report each phase once.
        words = line.split()
        if len(words) > 1 and words[0] == "I:" and words[1] not in seen:
            seen.add(words[1])
            progress(f"  debootstrap: {line[3:].strip()}")
    if process.wait() != 0:
        raise LocalProviderError(
            f"debootstrap of {SUITE} from {mirror} failed (exit {process.returncode})",
            *[line for line in tail[-5:] if line],
            hint="check that this machine reaches its Debian mirror (apt-get update)",
        )


def image_daemon_json() -> str:
    """dockerd's first-boot configuration: exactly the host tuning's daemon.json for local machines.

    docker.io starts dockerd on first boot, before the bootstrap tunes the machine; without a
    daemon.json its networks would come from 172.17.0.0/16, outside the benchmark range the
    machines may use. The host tuning already owns the local machines' daemon.json (pools in
    198.19.0.0/16 clear of the swarm's), so the image carries that file byte for byte: dockerd
    is inside the range from first boot, and the first tuning finds daemon.json unchanged.
    Every spec allowed on the local machines keeps its pools in the range, so the file built
    for the default local spec is right for the first boot of any cluster; the tuning rewrites
    it when a cluster's spec needs another pool. daemon.json does not depend on the role.
    """
    spec = ClusterSpec.model_validate(
        {
            "default_addr_pool": [SWARM_DEFAULT_ADDR_POOL],
            "default_addr_pool_mask_length": SWARM_DEFAULT_ADDR_POOL_MASK_LENGTH,
        }
    )
    tuning = host_tuning(spec, "worker", "generic", local_machine=True)
    (daemon_json,) = [file.content for file in tuning.files if file.path == DAEMON_JSON]
    return daemon_json


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _customise(root: Path) -> None:
    """Turn the debootstrapped tree into a bootable, key-only, network-quiet machine image."""
    # A fresh machine-id per machine (systemd makes one on first boot).
    (root / "etc/machine-id").write_text("")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    write_file(root / "etc/systemd/system/ssh.service.d/keygen.conf", SSH_KEYGEN_DROPIN)
    write_file(root / "etc/ssh/sshd_config.d/swarmstack.conf", SSHD_CONFIG)
    # No resolver: the machines have no route out, and nothing may try.
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text("")
    daemon_json = image_daemon_json()
    write_file(root / DAEMON_JSON.lstrip("/"), daemon_json)
    # The tuning restarts dockerd when daemon.json differs from the one it last applied; the
    # image's dockerd starts with this file, so it is recorded as applied.
    digest = hashlib.sha256(daemon_json.encode()).hexdigest()
    write_file(root / DOCKER_APPLIED.lstrip("/"), digest + "\n")
    units = root / "etc/systemd/system"
    for unit in MASKED_UNITS:
        link = units / unit
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("/dev/null")
    write_file(units / "swarmstack-cgroup-rw.service", CGROUP_RW_UNIT)
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "swarmstack-cgroup-rw.service"
    if not link.is_symlink():
        link.symlink_to("/etc/systemd/system/swarmstack-cgroup-rw.service")
    # The sudo user the bootstrap logs in as; each cluster authorises its own key per machine.
    run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash",
         "--groups", "sudo,docker", SSH_USER])  # fmt: skip
    write_file(root / f"etc/sudoers.d/{SSH_USER}", f"{SSH_USER} ALL=(ALL) NOPASSWD:ALL\n", 0o440)
    # The apt caches are 100+ MB the machines never need.
    for cache in (root / "var/cache/apt/archives").glob("*.deb"):
        cache.unlink()


def _tar_bytes(files: dict[str, tuple[bytes, int] | str]) -> bytes:
    """A tar archive from {name: (content, mode)} or {name: symlink target}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for directory in sorted({n.rsplit("/", 1)[0] for n in files if "/" in n}):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                archive.addfile(info)
            else:
                info.size, info.mode = len(content[0]), content[1]
                archive.addfile(info, io.BytesIO(content[0]))
    return buffer.getvalue()


BUSYBOX_TAG = "swarmstack/busybox:latest"
BUSYBOX_RECIPE = 3  # bump when the applets change: the cached tarball is named after it
# No wget: glibc-static busybox crashes in it. `nc` and `httpd` cover network checks.
# mkdir: the shared-volume test runs `volume mount-string`'s prepare command with this image.
BUSYBOX_APPLETS = ("sh", "sleep", "echo", "cat", "ls", "hostname", "httpd", "nc", "true", "env",
                   "mkdir")  # fmt: skip


def busybox_image(busybox: Path = Path("/bin/busybox")) -> Path:
    """A `docker load`-able image tarball (tag swarmstack/busybox:latest) from busybox-static.

    No registry is reachable from the machines; tests copy this file over SFTP and load it.
    """
    target = paths.IMAGES / f"busybox-r{BUSYBOX_RECIPE}.tar"
    if target.exists():
        return target
    try:
        binary = busybox.read_bytes()
    except OSError:
        raise LocalProviderError(
            f"{busybox} not found", hint="apt-get install busybox-static (scripts/setup.sh)"
        ) from None
    files: dict[str, tuple[bytes, int] | str] = {"bin/busybox": (binary, 0o755)}
    files.update({f"bin/{applet}": "busybox" for applet in BUSYBOX_APPLETS})
    layer = _tar_bytes(files)
    layer_digest = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
            "history": [{"created_by": "swarmstack: busybox-static"}],
        },
        sort_keys=True,
    ).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = [
        {"Config": config_name, "RepoTags": [BUSYBOX_TAG], "Layers": [f"{layer_digest}/layer.tar"]}
    ]
    image = _tar_bytes(
        {
            f"{layer_digest}/layer.tar": (layer, 0o644),
            config_name: (config, 0o644),
            "manifest.json": (json.dumps(manifest).encode(), 0o644),
        }
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(image)
    tmp.rename(target)
    return target


# --- the "cloud" variant: the base image plus cloud-init, for the AWS simulation -------------
# Machines have no internet, so the image carries what the stack's user data would install or
# use: cloud-init (runs the user data from the NoCloud seed), locales (cloud-init's locale module
# fails without it on minbase), curl (IMDS calls in the boot script) and python3-boto3 (the
# node-side agent). Docker comes from the base image (Debian's docker.io).
CLOUD_RECIPE_VERSION = 2
CLOUD_PACKAGES = ("cloud-init", "locales", "curl", "python3-boto3")
# NoCloud only: cloud-init must never probe a cloud's metadata address.
CLOUD_DATASOURCE_CFG = "datasource_list: [ NoCloud, None ]\n"
CLOUD_LOCALE_SCRIPT = (
    "sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen"
)
# Keeps services from starting inside the chroot while packages are installed.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"


def cloud_image_path() -> Path:
    return paths.IMAGES / f"{SUITE}-cloud-b{RECIPE_VERSION}-r{CLOUD_RECIPE_VERSION}"


def ensure_cloud_image(progress: Progress) -> Path:
    """The cached cloud variant; built from the base image (apt from the host's mirror) once."""
    target = cloud_image_path()
    if (target / STAMP).exists():
        return target
    base = ensure_base_image(progress)

    def build(tmp: Path) -> None:
        run(["cp", "-a", "--reflink=auto", f"{base}/.", str(tmp)], timeout=600)
        (tmp / STAMP).unlink()
        install_in_chroot(tmp, CLOUD_PACKAGES, progress)
        write_file(tmp / "etc/cloud/cloud.cfg.d/90-datasource.cfg", CLOUD_DATASOURCE_CFG)
        # cloud-init's locale module sets en_US.UTF-8 and fails when it is not generated.
        run(["chroot", str(tmp), "sh", "-c", CLOUD_LOCALE_SCRIPT])

    build_variant(target, "cloud image", {"recipe": CLOUD_RECIPE_VERSION, "base": base.name},
                  build, progress)  # fmt: skip
    return target


def build_variant(
    target: Path,
    what: str,
    stamp: dict[str, object],
    build: Callable[[Path], None],
    progress: Progress,
) -> None:
    """Build an image derived from the base image once: ``build`` fills a temporary directory
    beside ``target`` (under the build lock), which is stamped and renamed into place, so a
    crash never leaves a half-built image where a stamped one is expected."""
    with _lock(paths.IMAGES / ".build.lock"):
        if (target / STAMP).exists():
            return
        for stale in paths.IMAGES.glob(f".{target.name}.*"):  # a build killed half-way
            shutil.rmtree(stale, ignore_errors=True)
        progress(f"building the {what} {target.name} (once; a minute or two)")
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=paths.IMAGES))
        try:
            build(tmp)
            (tmp / STAMP).write_text(json.dumps(stamp) + "\n")
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        progress(f"{what} ready in {time.monotonic() - started:.0f} s")


def install_in_chroot(root: Path, packages: tuple[str, ...], progress: Progress) -> None:
    """apt-get install inside the image, with the host's resolver for the build only."""
    resolv = root / "etc/resolv.conf"
    policy = root / "usr/sbin/policy-rc.d"
    shutil.copyfile("/etc/resolv.conf", resolv)
    write_file(policy, POLICY_RC_D, 0o755)
    run(["mount", "-t", "proc", "proc", str(root / "proc")])
    try:
        env = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
        progress(f"  apt-get install {' '.join(packages)}")
        run(["chroot", str(root), "apt-get", "-q", "update"], env=env, timeout=600)
        run(["chroot", str(root), "apt-get", "-q", "-y", "install", "--no-install-recommends",
             *packages], env=env, timeout=1200)  # fmt: skip
        run(["chroot", str(root), "apt-get", "clean"], env=env)
    finally:
        run(["umount", str(root / "proc")], check=False)
        policy.unlink(missing_ok=True)
        resolv.write_text("")  # no resolver in the machines, as in the base image
    for lists in (root / "var/lib/apt/lists").glob("*_*"):
        lists.unlink()
