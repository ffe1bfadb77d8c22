"""Host tuning as data: the one source of truth for what a swarm host looks like.

Everything a host gets - sysctls, kernel modules, daemon.json, audit rules, SSH hardening,
systemd units, apt settings - is defined here once and rendered two ways by
swarmstack.cloudinit.render: as cloud-init user data (first boot on AWS/Azure) and as an
idempotent bash script the SSH provisioner runs on hosts that got no user data.

Local machines (systemd-nspawn, see shared/reference/local-testbed.md) share the real host's
kernel: only the per-network-namespace ``net.*`` sysctls are theirs. vm.*, fs.* and kernel.*
sysctls, kernel modules, the audit subsystem and the clock would change the real host, so
``host_tuning(..., local_machine=True)`` leaves all of them out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ..contract import STATE_DIR
from ..errors import UsageError
from ..spec import Cloud, ClusterSpec, Role

# --- paths on the host ----------------------------------------------------------------------

SYSCTL_FILE = "/etc/sysctl.d/90-swarmstack.conf"
MODULES_FILE = "/etc/modules-load.d/swarmstack.conf"
DAEMON_JSON = "/etc/docker/daemon.json"
# The setup script's record of the daemon.json dockerd was last (re)started with (its
# `changed docker` / `applied docker`, state_dir/NAME.sha256): another file restarts dockerd.
DOCKER_APPLIED = f"{STATE_DIR}/docker.sha256"
AUDIT_RULES_FILE = "/etc/audit/rules.d/90-swarmstack-docker.rules"
# sshd takes the first value it reads and includes sshd_config.d/*.conf in name order, so
# "10-" beats cloud-init's own 50-cloud-init.conf.
SSHD_FILE = "/etc/ssh/sshd_config.d/10-swarmstack.conf"
APT_PERIODIC_FILE = "/etc/apt/apt.conf.d/52swarmstack-auto-upgrades"
DOCKER_PIN_FILE = "/etc/apt/preferences.d/swarmstack-docker"
# Debian's and Ubuntu's chrony.conf read sources from here.
CHRONY_AWS_SOURCES = "/etc/chrony/sources.d/swarmstack-aws.sources"
# The Amazon Time Sync Service: link-local, no internet needed, leap-smeared.
AWS_TIME_SERVER = "169.254.169.123"
PRUNE_SERVICE = "swarmstack-docker-prune.service"
PRUNE_TIMER = "swarmstack-docker-prune.timer"
SYSTEMD_DIR = "/etc/systemd/system"
SETUP_SCRIPT = "/usr/local/sbin/swarmstack-host-setup"
DATA_VOLUME_LABEL = "swarmstack-data"
DOCKER_DATA_ROOT = "/var/lib/docker"

# On AWS the node agent (cloudinit.agent) reads the console's choices from the instance's
# tags at boot: swarmstack-log-group (CloudWatch logs on) and swarmstack-system-prune.
# Docker's apt repository signing key (https://download.docker.com/linux/<distro>/gpg).
DOCKER_APT_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
# Test hosts and the docker networks inside them live only in the benchmark range.
LOCAL_MACHINE_RANGE = ipaddress.IPv4Network("198.18.0.0/15")

# Host-local docker networks (docker0, docker_gwbridge, user bridges) take their subnets from
# daemon.json's default-address-pools; swarm overlays take theirs from the pools given to
# `swarm init` (the spec's default_addr_pool). dockerd does not cross-check the two
# allocators: with one pool for both, docker_gwbridge and the first overlay got the same /24
# (seen on the local machines), which breaks every container attached to both. So the local
# pool is the first of these that overlaps neither the swarm pools nor the VPC.
LOCAL_POOL_CANDIDATES: tuple[ipaddress.IPv4Network, ...] = (
    *(ipaddress.IPv4Network(f"172.{second}.0.0/16") for second in range(17, 32)),
    ipaddress.IPv4Network("192.168.0.0/16"),
)
# On the local machines: the testbed recipe's pool first, all inside the benchmark range and
# away from 198.18.0.0/16, where the machines' own bridges live.
LOCAL_MACHINE_POOL_CANDIDATES: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(cidr)
    for cidr in ("198.19.128.0/18", "198.19.192.0/18", "198.19.64.0/18", "198.19.0.0/18")
)
LOCAL_POOL_SUBNET_PREFIX = 24  # 256 host-local networks per host


@dataclass(frozen=True)
class Sysctl:
    key: str
    value: str
    why: str

    @property
    def per_network_namespace(self) -> bool:
        """net.* keys belong to the network namespace; everything else to the whole kernel."""
        return self.key.startswith("net.")


# What Docker's own Moby Linux set, raised where today's kernels already default higher:
# a sysctl.d value is absolute, so copying 2016's numbers would lower them on Debian 12
# (somaxconn 4096) and Ubuntu 24.04 (max_map_count 1048576). fs.file-max is left alone:
# systemd >= 240 sets it to the maximum and any number here would lower it.
# net.ipv4.ip_forward is deliberately absent: dockerd manages it.
SYSCTLS: tuple[Sysctl, ...] = (
    Sysctl("vm.max_map_count", "1048576", "databases and search engines map many regions"),
    Sysctl("vm.overcommit_memory", "1", "redis-style fork snapshots"),
    Sysctl("fs.aio-max-nr", "1048576", "async I/O heavy containers"),
    Sysctl("fs.inotify.max_user_watches", "1048576", "file watchers in many containers"),
    Sysctl("fs.inotify.max_user_instances", "8192", "one per container that watches files"),
    Sysctl("kernel.kptr_restrict", "2", "hide kernel addresses from containers"),
    Sysctl("kernel.dmesg_restrict", "1", "kernel log for root only"),
    Sysctl("net.core.somaxconn", "4096", "listen backlog for busy services"),
    Sysctl("net.ipv4.neigh.default.gc_thresh1", "30000", "large overlay ARP tables"),
    Sysctl("net.ipv4.neigh.default.gc_thresh2", "32000", "large overlay ARP tables"),
    Sysctl("net.ipv4.neigh.default.gc_thresh3", "32768", "large overlay ARP tables"),
    Sysctl("net.ipv4.tcp_syncookies", "1", "SYN flood protection"),
    Sysctl("net.ipv4.conf.all.rp_filter", "1", "drop spoofed source addresses"),
    Sysctl("net.ipv4.conf.default.rp_filter", "1", "drop spoofed source addresses"),
    Sysctl("net.ipv4.conf.all.accept_redirects", "0", "no ICMP redirects"),
    Sysctl("net.ipv4.conf.default.accept_redirects", "0", "no ICMP redirects"),
    Sysctl("net.ipv4.conf.all.secure_redirects", "0", "no ICMP redirects"),
    Sysctl("net.ipv4.conf.default.secure_redirects", "0", "no ICMP redirects"),
    Sysctl("net.ipv4.conf.all.send_redirects", "0", "a host is not a router"),
    Sysctl("net.ipv4.conf.default.send_redirects", "0", "a host is not a router"),
    Sysctl("net.ipv4.conf.all.accept_source_route", "0", "no source routing"),
    Sysctl("net.ipv4.conf.default.accept_source_route", "0", "no source routing"),
    Sysctl("net.ipv6.conf.all.accept_redirects", "0", "no ICMP redirects"),
    Sysctl("net.ipv6.conf.default.accept_redirects", "0", "no ICMP redirects"),
)

# overlay: the storage driver; br_netfilter: iptables sees bridged traffic; ip_vs*: service
# VIPs and the routing mesh; vxlan: overlay networks; esp4: encrypted overlays.
KERNEL_MODULES: tuple[str, ...] = (
    "overlay",
    "br_netfilter",
    "ip_vs",
    "ip_vs_rr",
    "xt_ipvs",
    "vxlan",
    "esp4",
)

# CIS Docker Benchmark 1.1.3-1.1.18: audit docker's daemon, data, configuration and runtime.
# Both layouts are listed: Docker's packages (/usr/bin/runc) and Debian's (/usr/sbin/runc).
AUDITED_PATHS: tuple[str, ...] = (
    "/usr/bin/dockerd",
    "/usr/bin/docker",
    "/usr/bin/containerd",
    "/usr/bin/containerd-shim-runc-v2",
    "/usr/bin/runc",
    "/usr/sbin/runc",
    DOCKER_DATA_ROOT,
    "/etc/docker",
    DAEMON_JSON,
    "/etc/default/docker",
    "/etc/containerd/config.toml",
    "/run/containerd",
    "/lib/systemd/system/docker.service",
    "/lib/systemd/system/docker.socket",
    "/lib/systemd/system/containerd.service",
)

# Keys only; root may log in with a key (some bring-your-own hosts are managed as root) but
# never with a password. MaxSessions stays at 10: the bootstrap opens a channel per command.
SSHD_SETTINGS: tuple[tuple[str, str], ...] = (
    ("PasswordAuthentication", "no"),
    ("KbdInteractiveAuthentication", "no"),
    ("PermitEmptyPasswords", "no"),
    ("PermitRootLogin", "prohibit-password"),
    ("PubkeyAuthentication", "yes"),
    ("X11Forwarding", "no"),
    ("AllowAgentForwarding", "no"),
    ("MaxAuthTries", "4"),
    ("LoginGraceTime", "30"),
    ("ClientAliveInterval", "60"),
    ("ClientAliveCountMax", "3"),
)

# Installed when missing. Best effort: a host without a package mirror keeps going.
HOST_PACKAGES: tuple[str, ...] = ("chrony", "auditd", "unattended-upgrades")
# The NFS client that mounts the shared file system (EFS, Azure Files) for service volumes.
NFS_CLIENT_PACKAGE = "nfs-common"

LOCAL_LOG_OPTS = {"max-size": "20m", "max-file": "5"}
# Soft limit for containers; the hard limit stays at systemd's default so that dockerd (whose
# unit no longer sets LimitNOFILE=infinity since Docker 25) can always grant it.
NOFILE_SOFT, NOFILE_HARD = 65536, 524288
METRICS_ADDR = "127.0.0.1:9323"


@dataclass(frozen=True)
class ManagedFile:
    """A file the host must have, exactly: content, mode and owner."""

    path: str
    content: str
    mode: int = 0o644
    owner: str = "root:root"

    def __post_init__(self) -> None:
        # Both renderings rely on these: YAML literal blocks keep exactly one final newline,
        # and the bash form writes each file with a heredoc.
        if not self.content.endswith("\n") or self.content.endswith("\n\n"):
            raise ValueError(f"{self.path}: content must end with exactly one newline")
        if self.content[:1].isspace():
            raise ValueError(f"{self.path}: content must not start with whitespace")

    @property
    def octal_mode(self) -> str:
        return f"{self.mode:04o}"


DataVolume = Literal["aws", "azure", "existing-only"]


@dataclass(frozen=True)
class HostTuning:
    """Everything one host gets, decided from the spec; rendered by swarmstack.cloudinit.render."""

    role: Role
    cloud: Cloud
    local_machine: bool
    docker_version: str
    daemon_config: dict[str, Any]
    sysctls: tuple[Sysctl, ...]
    kernel_modules: tuple[str, ...]
    packages: tuple[str, ...]
    audit: bool
    agent: bool  # AWS, Azure: the node agent forms the swarm (and reads the console's choices)
    prune: bool  # enable the prune timer at setup (on AWS the agent decides from a tag)
    data_volume: DataVolume
    files: tuple[ManagedFile, ...]
    absent_files: tuple[str, ...] = field(default=())

    @property
    def role_text(self) -> str:
        """The role as the rendered text names it: on AWS one user data serves both roles
        (each instance learns its role from its swarmstack-role tag)."""
        return "node" if self.agent else self.role

    @property
    def digest(self) -> str:
        """A short fingerprint of the desired state, recorded in the marker file."""
        payload = json.dumps(
            [(f.path, f.content, f.mode, f.owner) for f in self.files]
            + [self.docker_version, list(self.packages), list(self.absent_files)],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def daemon_config(
    spec: ClusterSpec, cloud: Cloud, *, local_machine: bool = False
) -> dict[str, Any]:
    """dockerd's daemon.json for this spec and cloud.

    Never live-restore (swarm mode rejects it). Containers log with the rotating ``local``
    driver; on AWS the node agent turns on awslogs at boot when the stack's
    EnableCloudWatchLogs says so (an instance tag). Local machines get no
    default-ulimits: their limits are the real host's, which their dockerd cannot raise (a
    container asking for more than that fails to start).
    """
    local_pool = local_address_pool(spec, local_machine=local_machine)
    config: dict[str, Any] = {
        "default-address-pools": [{"base": str(local_pool), "size": LOCAL_POOL_SUBNET_PREFIX}],
        "icc": False,
        "live-restore": False,
        "metrics-addr": METRICS_ADDR,
        "no-new-privileges": True,
        "userland-proxy": False,
    }
    if not local_machine:
        config["default-ulimits"] = {
            "nofile": {"Name": "nofile", "Hard": NOFILE_HARD, "Soft": NOFILE_SOFT}
        }
    # On AWS the agent switches to awslogs at boot when the instance carries a log group tag.
    config["log-driver"] = "local"
    config["log-opts"] = dict(LOCAL_LOG_OPTS)
    return config


def local_address_pool(spec: ClusterSpec, *, local_machine: bool = False) -> ipaddress.IPv4Network:
    """The pool for host-local docker networks: clear of the spec's swarm pools and VPC."""
    taken = [ipaddress.IPv4Network(pool) for pool in spec.default_addr_pool]
    if spec.vpc_cidr and not local_machine:
        taken.append(ipaddress.IPv4Network(spec.vpc_cidr))
    candidates = LOCAL_MACHINE_POOL_CANDIDATES if local_machine else LOCAL_POOL_CANDIDATES
    for candidate in candidates:
        if not any(candidate.overlaps(network) for network in taken):
            return candidate
    raise UsageError(
        f"default_addr_pool={','.join(spec.default_addr_pool)}: leaves no room for host-local "
        f"docker networks; keep one of {', '.join(str(c) for c in candidates)} free of it"
        + ("" if local_machine else " and of vpc_cidr")
    )


def docker_apt_version_prefix(docker_version: str) -> str:
    """The start of Docker's apt package version: 28.5 -> '5:28.5.', 28.5.1 -> '5:28.5.1-'."""
    separator = "." if docker_version.count(".") == 1 else "-"
    return f"5:{docker_version}{separator}"


def host_tuning(
    spec: ClusterSpec, role: Role, cloud: Cloud, *, local_machine: bool = False
) -> HostTuning:
    """Decide everything a host of this role on this cloud gets."""
    if local_machine:
        _check_local_pools(spec)
    sysctls = tuple(s for s in SYSCTLS if s.per_network_namespace or not local_machine)
    modules = () if local_machine else KERNEL_MODULES
    audit = not local_machine
    agent = cloud in ("aws", "azure") and not local_machine
    config = daemon_config(spec, cloud, local_machine=local_machine)

    files = [
        ManagedFile(DAEMON_JSON, json.dumps(config, indent=2, sort_keys=True) + "\n"),
        ManagedFile(SYSCTL_FILE, _sysctl_conf(sysctls, local_machine)),
        ManagedFile(SSHD_FILE, _sshd_conf()),
    ]
    if modules:
        files.append(ManagedFile(MODULES_FILE, _modules_conf(modules)))
    if audit:
        files.append(ManagedFile(AUDIT_RULES_FILE, _audit_rules(), mode=0o640))
    if not local_machine:
        files.append(ManagedFile(APT_PERIODIC_FILE, _apt_periodic()))
    if cloud == "aws":
        files.append(ManagedFile(CHRONY_AWS_SOURCES, _chrony_aws_sources()))
    if spec.docker_version != "distro":
        files.append(ManagedFile(DOCKER_PIN_FILE, _docker_pin(spec.docker_version)))
    prune_files = (f"{SYSTEMD_DIR}/{PRUNE_SERVICE}", f"{SYSTEMD_DIR}/{PRUNE_TIMER}")
    # On AWS the units are always there: EnableSystemPrune may be changed in the console, and
    # the agent enables the timer from the instance tag.
    if spec.enable_system_prune or agent:
        files.append(ManagedFile(prune_files[0], _prune_service()))
        files.append(ManagedFile(prune_files[1], _prune_timer()))
    # Switched-off features leave nothing behind when the SSH form runs again.
    absent = () if spec.enable_system_prune or agent else prune_files
    packages = () if local_machine else _host_packages(spec)
    if agent:
        # Imported here: the agent's files are built from this module's ManagedFile.
        from .agent import AGENT_PACKAGES_DEB, agent_files

        files.extend(agent_files(spec, cloud))
        packages = (*packages, *AGENT_PACKAGES_DEB[cloud])
    if spec.docker_version == "distro":
        absent = (*absent, DOCKER_PIN_FILE)

    data_volume: DataVolume = cloud if cloud in ("aws", "azure") else "existing-only"
    return HostTuning(
        role=role,
        cloud=cloud,
        local_machine=local_machine,
        docker_version=spec.docker_version,
        daemon_config=config,
        sysctls=sysctls,
        kernel_modules=modules,
        packages=packages,
        audit=audit,
        agent=agent,
        prune=spec.enable_system_prune and not agent,
        data_volume=data_volume,
        files=tuple(files),
        absent_files=absent,
    )


def _check_local_pools(spec: ClusterSpec) -> None:
    """Docker networks inside the local machines must stay in the benchmark range."""
    outside = [
        pool
        for pool in spec.default_addr_pool
        if not ipaddress.IPv4Network(pool).subnet_of(LOCAL_MACHINE_RANGE)
    ]
    if outside:
        raise UsageError(
            f"default_addr_pool={','.join(outside)}: must lie inside {LOCAL_MACHINE_RANGE} "
            "on the local machines (they may use only the benchmark range)"
        )


def _sysctl_conf(sysctls: tuple[Sysctl, ...], local_machine: bool) -> str:
    lines = ["# swarmstack host tuning (generated; changes are overwritten)"]
    if local_machine:
        lines.append("# Local machine: net.* only; vm.*, fs.* and kernel.* are the real host's.")
    why = None
    for sysctl in sysctls:
        if sysctl.why != why:
            why = sysctl.why
            lines.append(f"# {why}")
        lines.append(f"{sysctl.key} = {sysctl.value}")
    return "\n".join(lines) + "\n"


def _modules_conf(modules: tuple[str, ...]) -> str:
    return "# swarmstack: kernel modules swarm networking needs\n" + "\n".join(modules) + "\n"


def _audit_rules() -> str:
    lines = ["# swarmstack: CIS Docker Benchmark 1.1.x audit rules"]
    lines += [f"-w {path} -k docker" for path in AUDITED_PATHS]
    return "\n".join(lines) + "\n"


def _sshd_conf() -> str:
    lines = ["# swarmstack SSH hardening: keys only"]
    lines += [f"{key} {value}" for key, value in SSHD_SETTINGS]
    return "\n".join(lines) + "\n"


def _apt_periodic() -> str:
    # The distributions' default unattended-upgrades origins are security updates only;
    # Docker's repository is not among them, so the pinned engine is never moved.
    return (
        'APT::Periodic::Update-Package-Lists "1";\n'
        'APT::Periodic::Unattended-Upgrade "1";\n'
        'Unattended-Upgrade::Automatic-Reboot "false";\n'
    )


def _chrony_aws_sources() -> str:
    return (
        "# swarmstack: the Amazon Time Sync Service (swarm TLS breaks with clock skew)\n"
        f"server {AWS_TIME_SERVER} prefer iburst minpoll 4 maxpoll 4\n"
    )


def _docker_pin(docker_version: str) -> str:
    return (
        f"# swarmstack: keep Docker Engine at {docker_version}\n"
        "Package: docker-ce docker-ce-cli docker-ce-rootless-extras\n"
        f"Pin: version {docker_apt_version_prefix(docker_version)}*\n"
        "Pin-Priority: 1001\n"
    )


def _prune_service() -> str:
    return (
        "[Unit]\n"
        "Description=Remove unused Docker data (never volumes)\n"
        "Requires=docker.service\n"
        "After=docker.service\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "# No --volumes: volumes hold data and are never pruned unless asked.\n"
        "ExecStart=/usr/bin/docker system prune --force\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n"
    )


def _prune_timer() -> str:
    # The randomised delay keeps a whole cluster from pruning at the same moment.
    return (
        "[Unit]\n"
        "Description=Daily removal of unused Docker data\n"
        "\n"
        "[Timer]\n"
        "OnCalendar=daily\n"
        "RandomizedDelaySec=3h\n"
        "Persistent=true\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def _host_packages(spec: ClusterSpec) -> tuple[str, ...]:
    return (*HOST_PACKAGES, NFS_CLIENT_PACKAGE) if spec.shared_storage else HOST_PACKAGES
