"""The SSH form of the host tuning, applied to a real local machine and checked through it.

The machine has docker.io baked in and no package mirror: the script must leave the engine
package alone, skip what needs the network, and still converge daemon.json, sysctls, sshd and
the prune timer. Only net.* sysctls are applied there (vm.*, fs.* and kernel.* would change
this host's kernel), which the test checks from both sides.
"""

from __future__ import annotations

import io
import ipaddress
import itertools
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from swarmstack.cloudinit import generate_host_keys, host_tuning, tuning_script
from swarmstack.cloudinit.tuning import local_address_pool
from swarmstack.contract import TUNING_MARKER
from swarmstack.provisioners.bootstrap import converge
from swarmstack.provisioners.inventory import inventory_from_data
from swarmstack.provisioners.local import LocalCluster, Machine, busybox_image
from swarmstack.provisioners.local.formation import LOCAL_DEFAULTS
from swarmstack.provisioners.tuning import APPLY_COMMAND
from swarmstack.spec import ClusterSpec

from .conftest import connect, require_root, run, session_cluster_name

# Swarm pools on the machines' baked-in local pool 198.19.128.0/18: the tuning must move the
# host-local networks elsewhere (198.19.192.0/18), so the change is visible.
SPEC_VALUES: dict[str, Any] = {
    "default_addr_pool": ["198.19.128.0/18"],
    "default_addr_pool_mask_length": 26,
    "enable_system_prune": True,
}
HOST_KERNEL_SYSCTLS = ("vm/max_map_count", "fs/aio-max-nr", "kernel/kptr_restrict")


def _progress(message: str) -> None:
    print(f"[host tuning] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def machine() -> Iterator[tuple[LocalCluster, Machine]]:
    """A one-machine cluster of its own: the tuning restarts dockerd and rewrites daemon.json,
    which other tests' machines must not see."""
    require_root()
    cluster = LocalCluster.up(1, 0, name=session_cluster_name("-tuning"), progress=_progress)
    try:
        yield cluster, cluster.machines[0]
    finally:
        cluster.down()


def ssh(cluster: LocalCluster, target: Machine, command: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        cluster.ssh_command(target.name, [command]),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"{command!r} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout + result.stderr


def apply(cluster: LocalCluster, target: Machine, spec: ClusterSpec) -> str:
    """Stream and run the script as the SSH bootstrap does (as root); returns its log."""
    script = tuning_script(spec, target.role, local_machine=True)
    return ssh(cluster, target, f"sudo -n -- sh -c {shlex.quote(APPLY_COMMAND)}", stdin=script)


def host_kernel_values() -> dict[str, str]:
    return {key: Path("/proc/sys", key).read_text().strip() for key in HOST_KERNEL_SYSCTLS}


@pytest.fixture(scope="module")
def tuned(machine: tuple[LocalCluster, Machine]) -> tuple[LocalCluster, Machine, str]:
    cluster, target = machine
    before = host_kernel_values()
    log = apply(cluster, target, ClusterSpec.model_validate(SPEC_VALUES))
    assert host_kernel_values() == before, "the tuning changed this host's kernel"
    return cluster, target, log


def test_docker_info_shows_the_log_driver_and_address_pools(
    tuned: tuple[LocalCluster, Machine, str],
) -> None:
    cluster, target, log = tuned
    assert "package left as it is" in log  # docker.io was there: no reinstall, no mirror needed
    info = json.loads(ssh(cluster, target, "sudo docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "local"
    assert info["DefaultAddressPools"] == [{"Base": "198.19.192.0/18", "Size": 24}]
    mode = ssh(cluster, target, "stat -c '%a %U:%G' /etc/docker/daemon.json").strip()
    assert mode == "644 root:root"


def test_containers_run_with_the_daemon_defaults(tuned: tuple[LocalCluster, Machine, str]) -> None:
    cluster, target, _ = tuned
    with busybox_image().open("rb") as image:
        subprocess.run(
            cluster.ssh_command(target.name, ["sudo docker load"]),
            stdin=image,
            capture_output=True,
            timeout=120,
            check=True,
        )
    status = ssh(
        cluster, target, "sudo docker run --rm swarmstack/busybox:latest cat /proc/self/status"
    )
    assert "NoNewPrivs:\t1" in status  # no-new-privileges from daemon.json


def test_the_prune_timer_is_listed(tuned: tuple[LocalCluster, Machine, str]) -> None:
    cluster, target, _ = tuned
    timers = ssh(cluster, target, "systemctl list-timers --all --no-pager")
    assert "swarmstack-docker-prune.timer" in timers
    enabled = ssh(cluster, target, "systemctl is-enabled swarmstack-docker-prune.timer")
    assert enabled.strip() == "enabled"
    # What the timer starts works: a oneshot, so `start` returns when the prune is done.
    ssh(cluster, target, "sudo systemctl start swarmstack-docker-prune.service")
    result = ssh(cluster, target, "systemctl show -p Result --value swarmstack-docker-prune")
    assert result.strip() == "success"


def test_net_sysctls_have_their_values(tuned: tuple[LocalCluster, Machine, str]) -> None:
    cluster, target, _ = tuned
    spec = ClusterSpec.model_validate(SPEC_VALUES)
    sysctls = host_tuning(spec, target.role, "generic", local_machine=True).sysctls
    assert all(s.key.startswith("net.") for s in sysctls)
    checked = []
    for sysctl in sysctls:
        path = "/proc/sys/" + sysctl.key.replace(".", "/")
        # Some net.* keys exist only in the initial network namespace (neigh gc_thresh*).
        value = ssh(cluster, target, f"cat {path} 2>/dev/null || echo absent").strip()
        if value != "absent":
            assert value == sysctl.value, sysctl.key
            checked.append(sysctl.key)
    assert {"net.core.somaxconn", "net.ipv4.tcp_syncookies"} <= set(checked)


def test_sshd_is_hardened_and_still_lets_us_in(tuned: tuple[LocalCluster, Machine, str]) -> None:
    cluster, target, _ = tuned
    effective = ssh(cluster, target, "sudo sshd -T")
    assert "passwordauthentication no" in effective
    assert "permitrootlogin without-password" in effective  # sshd's name for prohibit-password


def test_the_marker_records_the_tuning(tuned: tuple[LocalCluster, Machine, str]) -> None:
    cluster, target, _ = tuned
    spec = ClusterSpec.model_validate(SPEC_VALUES)
    marker = json.loads(ssh(cluster, target, f"cat {TUNING_MARKER}"))
    expected = host_tuning(spec, target.role, "generic", local_machine=True).digest
    assert marker["tuning"] == expected
    assert marker["local_machine"] is True


def test_a_second_run_changes_nothing(tuned: tuple[LocalCluster, Machine, str]) -> None:
    cluster, target, _ = tuned
    pid = "systemctl show -p MainPID --value docker.service"
    before = ssh(cluster, target, pid).strip()
    log = apply(cluster, target, ClusterSpec.model_validate(SPEC_VALUES))
    assert "wrote " not in log
    assert "restarted" not in log
    assert ssh(cluster, target, pid).strip() == before, "dockerd was restarted"


def test_the_first_tuning_of_a_fresh_machine_keeps_its_dockerd() -> None:
    """`local up` tunes machines whose image already runs dockerd with the tuning's daemon.json:
    the tuning must not restart it (a restart costs every new machine a second or more)."""
    require_root()
    cluster = LocalCluster.up(1, 0, name=session_cluster_name("-fresh"), progress=_progress)
    try:
        (target,) = cluster.machines
        pid = "systemctl show -p MainPID --value docker.service"
        before = ssh(cluster, target, pid).strip()
        log = apply(cluster, target, ClusterSpec.model_validate(LOCAL_DEFAULTS))
        assert "restarted" not in log, log
        assert ssh(cluster, target, pid).strip() == before, "dockerd was restarted"
    finally:
        cluster.down()


def test_switching_prune_off_removes_the_timer(tuned: tuple[LocalCluster, Machine, str]) -> None:
    cluster, target, _ = tuned
    log = apply(
        cluster, target, ClusterSpec.model_validate({**SPEC_VALUES, "enable_system_prune": False})
    )
    assert "removed /etc/systemd/system/swarmstack-docker-prune.timer" in log
    timers = ssh(cluster, target, "systemctl list-timers --all --no-pager")
    assert "swarmstack-docker-prune" not in timers
    apply(cluster, target, ClusterSpec.model_validate(SPEC_VALUES))  # back, for later tests


def test_host_networks_and_overlays_never_share_a_subnet(
    tuned: tuple[LocalCluster, Machine, str],
) -> None:
    """A swarm formed on the tuned machine (the bootstrap re-applies the script with `sh`):
    docker0, docker_gwbridge and the overlays each get a subnet of their own."""
    cluster, target, _ = tuned
    spec = ClusterSpec.model_validate(SPEC_VALUES)
    converge(spec, inventory_from_data(cluster.inventory(), base=cluster.dir), local_machine=True)
    probe = "docker run -d --name swarmstack-probe --network swarmstack-probe-a"
    ssh(
        cluster,
        target,
        "sudo docker network create -d overlay --attachable swarmstack-probe-a >/dev/null && "
        "sudo docker network create -d overlay --attachable swarmstack-probe-b >/dev/null && "
        f"sudo {probe} swarmstack/busybox:latest sleep 300 >/dev/null",
    )
    try:
        listing = ssh(
            cluster,
            target,
            "sudo docker network inspect -f '{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}}' "
            "$(sudo docker network ls -q)",
        )
    finally:
        ssh(
            cluster,
            target,
            "sudo docker rm -f swarmstack-probe >/dev/null; "
            "sudo docker network rm swarmstack-probe-a swarmstack-probe-b >/dev/null; "
            "sudo docker swarm leave --force >/dev/null",
        )
    subnets = {
        name: ipaddress.IPv4Network(cidr)
        for name, _, cidr in (line.partition(" ") for line in listing.splitlines())
        if cidr
    }
    assert {"bridge", "docker_gwbridge", "ingress", "swarmstack-probe-a"} <= set(subnets)
    local = local_address_pool(spec, local_machine=True)
    swarm_pool = ipaddress.IPv4Network(SPEC_VALUES["default_addr_pool"][0])
    for name, subnet in subnets.items():
        expected = local if name in ("bridge", "docker_gwbridge") else swarm_pool
        assert subnet.subnet_of(expected), f"{name} {subnet} is outside {expected}"
    for first, second in itertools.combinations(subnets, 2):
        assert not subnets[first].overlaps(subnets[second]), f"{first} and {second} overlap"


def test_generated_host_keys_are_what_sshd_presents(
    tuned: tuple[LocalCluster, Machine, str], tmp_path: Path
) -> None:
    """The key pair cloud-init's ssh_keys would install is a key sshd serves and paramiko
    verifies from the known_hosts lines, with unknown keys rejected."""
    cluster, target, _ = tuned
    keys = generate_host_keys()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("\n".join(keys.known_hosts_lines([target.address])) + "\n")
    key_file = "/etc/ssh/ssh_host_ed25519_key"
    install = (
        f"sudo cp -p {key_file} {key_file}.orig && sudo cp -p {key_file}.pub {key_file}.pub.orig"
        f" && sudo install -m 600 /tmp/hostkey {key_file}"
        f" && sudo install -m 644 /tmp/hostkey.pub {key_file}.pub && rm -f /tmp/hostkey*"
        " && sudo systemctl restart ssh.service"
    )
    restore = (
        f"sudo mv -f {key_file}.orig {key_file} && sudo mv -f {key_file}.pub.orig {key_file}.pub"
        " && sudo systemctl restart ssh.service"
    )
    with connect(cluster, target, cluster.known_hosts_path) as admin:
        with admin.open_sftp() as sftp:
            sftp.putfo(io.BytesIO(keys.ed25519_private.encode()), "/tmp/hostkey")
            sftp.putfo(io.BytesIO((keys.ed25519_public + "\n").encode()), "/tmp/hostkey.pub")
        run(admin, install)
        try:
            with connect(cluster, target, known_hosts) as client:
                assert run(client, "hostname").strip() == target.name
            with pytest.raises(paramiko.BadHostKeyException):
                connect(cluster, target, cluster.known_hosts_path)  # the old key: refused
        finally:
            run(admin, restore)  # existing sessions survive an sshd restart
