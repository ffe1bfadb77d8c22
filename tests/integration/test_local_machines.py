"""Real local machines: they boot, answer SSH with pinned host keys, run docker, reboot,
scale, and leave nothing behind when removed."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import paramiko
import pytest

from swarmstack.provisioners.local import LocalCluster, Machine, busybox_image

from .conftest import ClusterFactory, connect, require_root, run, session_cluster_name

BUSYBOX = "swarmstack/busybox:latest"


def test_each_machine_answers_ssh_with_its_own_pinned_key_address_and_hostname(
    local_cluster: LocalCluster,
) -> None:
    assert [m.name for m in local_cluster.machines] == ["ss-m1", "ss-m2", "ss-m3", "ss-w1", "ss-w2"]
    seen_keys = set()
    for machine in local_cluster.machines:
        with connect(local_cluster, machine, local_cluster.known_hosts_path) as client:
            assert run(client, "hostname").strip() == machine.name
            addresses = run(client, "ip -4 -o addr show dev eth0")
            assert f"inet {machine.address}/24" in addresses
            assert "default" not in run(client, "ip route"), "machines must have no way out"
            assert run(client, "sudo -n id -u").strip() == "0"
            key = client.get_transport().get_remote_server_key()  # type: ignore[union-attr]
            seen_keys.add(key.get_base64())
    assert len(seen_keys) == len(local_cluster.machines), "every machine has its own host key"


def test_a_host_key_that_does_not_match_is_refused(
    local_cluster: LocalCluster, tmp_path: Path
) -> None:
    first, second = local_cluster.machines[:2]
    lines = local_cluster.known_hosts_path.read_text().splitlines()
    other_key = next(line for line in lines if line.startswith(f"{second.address} ")).split(" ", 1)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{first.address} {other_key[1]}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        connect(local_cluster, first, wrong)
    unknown = tmp_path / "empty_known_hosts"
    unknown.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(local_cluster, first, unknown)


def test_machines_reach_each_other_on_the_bridge_and_nothing_else(
    local_cluster: LocalCluster,
) -> None:
    manager, worker = local_cluster.machines[0], local_cluster.machines[-1]
    local_cluster.ssh(manager.name, f"ping -c 1 -W 2 {worker.address}")
    # No route: the kernel refuses before a single packet leaves the machine.
    outside = local_cluster.ssh(manager.name, "ip route get 192.0.2.1", check=False)
    assert outside.returncode != 0
    assert "unreachable" in outside.stderr.lower()


def test_docker_runs_inside_and_stays_in_the_benchmark_range(local_cluster: LocalCluster) -> None:
    machine = local_cluster.machines[-1]
    image = busybox_image()
    with connect(local_cluster, machine, local_cluster.known_hosts_path) as client:
        with client.open_sftp() as sftp:
            sftp.put(str(image), "/tmp/busybox.tar")
        run(client, "sudo docker load -i /tmp/busybox.tar")
        assert run(client, f"sudo docker run --rm {BUSYBOX} echo hello-from-a-container") == (
            "hello-from-a-container\n"
        )
        bridge = json.loads(run(client, "sudo docker network inspect bridge"))
        # Exact values differ once the host tuning (another test) rewrote daemon.json;
        # what must hold is the network rule: everything inside 198.19.0.0/16.
        docker_range = ipaddress.IPv4Network("198.19.0.0/16")
        subnet = ipaddress.IPv4Network(bridge[0]["IPAM"]["Config"][0]["Subnet"])
        assert subnet.subnet_of(docker_range), subnet
        info = json.loads(run(client, "sudo docker info --format '{{json .}}'"))
        pools = [pool["Base"] for pool in info.get("DefaultAddressPools") or []]
        assert pools
        assert all(ipaddress.IPv4Network(pool).subnet_of(docker_range) for pool in pools)


def test_a_rebooted_machine_comes_back_with_its_address_and_key(
    local_cluster: LocalCluster,
) -> None:
    machine = local_cluster.machines[-1]
    known_hosts_before = local_cluster.known_hosts_path.read_text()
    before = local_cluster.boot_id(machine.name)
    local_cluster.reboot(machine.name)
    assert local_cluster.boot_id(machine.name) != before
    with connect(local_cluster, machine, local_cluster.known_hosts_path) as client:
        assert run(client, "hostname").strip() == machine.name
        deadline = time.monotonic() + 60
        while run(client, "systemctl is-active docker || true").strip() != "active":
            assert time.monotonic() < deadline, "docker did not start after the reboot"
            time.sleep(0.5)
    assert local_cluster.known_hosts_path.read_text() == known_hosts_before


def test_a_stopped_service_stays_stopped_until_started(local_cluster: LocalCluster) -> None:
    machine = local_cluster.machines[-1]
    local_cluster.stop_service(machine.name, "docker")
    state = local_cluster.ssh(machine.name, "systemctl is-active docker", check=False)
    assert state.stdout.strip() == "inactive"
    local_cluster.start_service(machine.name, "docker")
    assert local_cluster.ssh(machine.name, "systemctl is-active docker").stdout.strip() == "active"


def test_scaling_adds_machines_and_hands_the_leaving_ones_over_first(
    local_cluster_factory: ClusterFactory,
) -> None:
    grown = local_cluster_factory(3, 3)
    added = grown.machine("ss-w3")
    assert added.address == "198.18." + grown.network.split(".")[2] + ".16"
    grown.ssh("ss-w3", "true")
    handed: list[tuple[str, bool]] = []

    def before_remove(cluster: LocalCluster, leaving: Sequence[Machine]) -> None:
        # The leaving machine still runs here: the bootstrap drains its node now.
        for machine in leaving:
            ran = cluster.ssh(machine.name, "hostname", check=False).returncode == 0
            handed.append((machine.name, ran))

    shrunk = local_cluster_factory(3, 2, before_remove=before_remove)
    assert handed == [("ss-w3", True)]
    assert [m.name for m in shrunk.machines] == ["ss-m1", "ss-m2", "ss-m3", "ss-w1", "ss-w2"]
    assert added.address not in shrunk.known_hosts_path.read_text()
    assert shrunk.is_running("ss-w1") is not False


def test_up_again_with_the_same_counts_changes_nothing(local_cluster: LocalCluster) -> None:
    boot_ids = {m.name: local_cluster.boot_id(m.name) for m in local_cluster.machines}
    again = LocalCluster.up(3, 2, name=local_cluster.name)
    assert again.machines == local_cluster.machines
    assert {m.name: again.boot_id(m.name) for m in again.machines} == boot_ids


def _host_leftovers(cluster_dir: Path, bridge: str, cluster: str) -> list[str]:
    """Everything a local cluster may create, looked up independently of swarmstack's code."""
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {line}" for line in netns.splitlines() if f"-{cluster}-" in line]
    if Path("/sys/class/net", bridge).exists():
        found.append(f"bridge {bridge}")
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    found += [f"rule {line}" for line in rules.splitlines() if cluster in line]
    mounts = Path("/proc/mounts").read_text()
    found += [f"mount {line}" for line in mounts.splitlines() if str(cluster_dir) in line]
    # Not a recursive glob: cgroups of other machines come and go while it walks.
    hierarchies = [Path("/sys/fs/cgroup"), *Path("/sys/fs/cgroup").iterdir()]
    found += [f"cgroup {h}" for h in hierarchies if (h / "swarmstack" / cluster).exists()]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(cluster_dir) in cmdline:
                found.append(f"process {proc.name} {cmdline[:80]}")
    propagate = Path("/run/systemd/nspawn/propagate")
    if propagate.exists():
        found += [f"nspawn {p}" for p in propagate.iterdir() if p.name.startswith(f"{cluster}-")]
    if cluster_dir.exists():
        found.append(f"directory {cluster_dir}")
    return found


def test_down_leaves_no_namespace_bridge_mount_cgroup_rule_or_process() -> None:
    require_root()
    name = session_cluster_name("-down")
    try:
        cluster = LocalCluster.up(1, 1, name=name)
    except BaseException:
        if LocalCluster.exists(name):
            LocalCluster.open(name).down()
        raise
    bridge, cluster_dir = cluster.bridge, cluster.dir
    during = _host_leftovers(cluster_dir, bridge, name)
    # The check must see a running cluster, or it would prove nothing after down.
    assert any(item.startswith("netns") for item in during)
    assert any(item.startswith("process") for item in during)
    assert any(item.startswith("mount") for item in during)
    assert any(item.startswith("cgroup") for item in during)
    assert any(item.startswith("rule") for item in during)
    assert f"bridge {bridge}" in during
    assert any(item.startswith("nspawn") for item in during)
    cluster.down()
    assert _host_leftovers(cluster_dir, bridge, name) == []
    assert cluster.leftovers() == []
    assert not LocalCluster.exists(name)


def swarmstack(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command line, as a user runs it."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("swarmstack")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_status_and_ssh_reach_the_machines(local_cluster: LocalCluster) -> None:
    status = swarmstack("-o", "json", "local", "status", "--name", local_cluster.name)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert [(m["name"], m["state"], m["ssh"]) for m in data["machines"]] == [
        (m.name, "running", "ok") for m in local_cluster.machines
    ]
    # Each machine is accounted in its own cgroup (systemd + sshd + dockerd: tens of MiB).
    assert all(m["memory_mib"] > 10 for m in data["machines"])
    assert data["docker_host"] == f"ssh://swarmstack@{local_cluster.managers[0].address}"
    assert data["ssh"]["known_hosts"] == str(local_cluster.known_hosts_path)
    hostname = swarmstack("local", "ssh", "--name", local_cluster.name, "ss-w1", "--", "hostname")
    assert (hostname.returncode, hostname.stdout) == (0, "ss-w1\n"), hostname.stderr
    failing = swarmstack("local", "ssh", "--name", local_cluster.name, "ss-w1", "--", "exit 3")
    assert failing.returncode == 3
    # The ssh_config users Include for DOCKER_HOST=ssh://... carries key and known_hosts.
    plain_ssh = subprocess.run(
        ["ssh", "-F", data["ssh"]["config"], "-o", "BatchMode=yes",
         local_cluster.managers[0].address, "docker version --format '{{.Server.Version}}'"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert plain_ssh.returncode == 0, plain_ssh.stderr
    assert plain_ssh.stdout.strip()
    unknown = swarmstack("local", "ssh", "--name", local_cluster.name, "ss-w9")
    assert unknown.returncode == 2
    assert "NAME=ss-w9: no such machine" in unknown.stderr


def test_a_powered_off_machine_is_unreachable_until_up_boots_it_again(
    local_cluster: LocalCluster,
) -> None:
    machine = local_cluster.machines[-1]
    local_cluster.power_off(machine.name)
    assert not local_cluster.is_running(machine.name)
    row = next(r for r in local_cluster.status() if r["name"] == machine.name)
    assert (row["state"], row["ssh"]) == ("stopped", "-")
    unreachable = local_cluster.ssh(machine.name, "true", check=False, timeout=30)
    assert unreachable.returncode == 255
    again = LocalCluster.up(3, 2, name=local_cluster.name)
    assert again.is_running(machine.name)
    assert again.ssh(machine.name, "hostname").stdout.strip() == machine.name
