"""Host tuning as data, and the promise that both forms carry exactly that data."""

from __future__ import annotations

import json

import pytest

from swarmstack.cloudinit import host_tuning, render_user_data, tuning_script
from swarmstack.cloudinit.tuning import (
    AUDIT_RULES_FILE,
    DAEMON_JSON,
    KERNEL_MODULES,
    MODULES_FILE,
    SYSCTL_FILE,
    SYSCTLS,
    docker_apt_version_prefix,
    local_address_pool,
)
from swarmstack.errors import UsageError
from swarmstack.spec import ClusterSpec

from .variants import CLOUDS, ROLES, make_spec, script_files, user_data_files

LOCAL_SPEC = make_spec(default_addr_pool=["198.19.0.0/18"], enable_system_prune=True)


def file_content(spec: ClusterSpec, path: str, cloud: str = "generic") -> str:
    tuning = host_tuning(spec, "manager", cloud)  # type: ignore[arg-type]
    return next(f.content for f in tuning.files if f.path == path)


def daemon_json(spec: ClusterSpec, cloud: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(file_content(spec, DAEMON_JSON, cloud))
    return result


# --- one source of truth ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_script_and_user_data_write_the_same_files(role: str) -> None:
    spec = make_spec(enable_system_prune=True, enable_cloudwatch_logs=False)
    from_user_data = user_data_files(render_user_data(spec, role, "generic"))  # type: ignore[arg-type]
    from_script = script_files(tuning_script(spec, role))  # type: ignore[arg-type]
    setup = from_user_data.pop("/usr/local/sbin/swarmstack-host-setup")
    assert from_script == from_user_data
    # ... and run the same steps: the script is the user data's setup script plus the files.
    assert setup[1] == "0755"
    for line in setup[0].splitlines():
        assert line in tuning_script(spec, role).splitlines()  # type: ignore[arg-type]


def test_the_tuning_reaches_the_files() -> None:
    spec = make_spec()
    sysctl_conf = file_content(spec, SYSCTL_FILE)
    for sysctl in SYSCTLS:
        assert f"\n{sysctl.key} = {sysctl.value}\n" in sysctl_conf
    assert file_content(spec, MODULES_FILE).split("\n")[1:-1] == list(KERNEL_MODULES)
    assert "-w /var/lib/docker -k docker" in file_content(spec, AUDIT_RULES_FILE)


# --- sysctls ----------------------------------------------------------------------------------


def test_sysctls_are_flagged_by_namespace() -> None:
    keys = [s.key for s in SYSCTLS]
    assert len(keys) == len(set(keys))
    assert all(s.per_network_namespace == s.key.startswith("net.") for s in SYSCTLS)
    assert {"net.core.somaxconn", "vm.max_map_count", "fs.aio-max-nr"} <= set(keys)
    assert "net.ipv4.ip_forward" not in keys  # dockerd manages forwarding


def test_local_machines_get_only_net_sysctls_and_leave_the_host_kernel_alone() -> None:
    tuning = host_tuning(LOCAL_SPEC, "worker", "generic", local_machine=True)
    assert tuning.sysctls
    assert all(s.key.startswith("net.") for s in tuning.sysctls)
    assert tuning.kernel_modules == ()
    assert not tuning.audit
    assert tuning.packages == ()
    assert "default-ulimits" not in tuning.daemon_config  # the real host's limits apply
    paths = {f.path for f in tuning.files}
    assert MODULES_FILE not in paths
    assert AUDIT_RULES_FILE not in paths

    script = tuning_script(LOCAL_SPEC, "worker", local_machine=True)
    sysctl_conf = script_files(script)[SYSCTL_FILE][0]
    settings = [line for line in sysctl_conf.splitlines() if line and not line.startswith("#")]
    assert settings
    assert all(line.startswith("net.") for line in settings)
    assert "modprobe" not in script
    assert "augenrules" not in script
    assert "apt_get install" not in script.split("install_docker_engine() {")[1].split("\n}\n")[1]


def test_hosts_get_the_whole_kernel_tuning() -> None:
    tuning = host_tuning(make_spec(), "worker", "aws")
    assert tuning.sysctls == SYSCTLS
    assert tuning.kernel_modules == KERNEL_MODULES
    assert tuning.audit


def test_local_machines_refuse_pools_outside_the_benchmark_range() -> None:
    with pytest.raises(UsageError, match=r"default_addr_pool=10\.0\.0\.0/8: must lie inside"):
        tuning_script(make_spec(), "worker", local_machine=True)


# --- daemon.json ------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_daemon_json_is_hardened(cloud: str) -> None:
    spec = make_spec(default_addr_pool=["10.128.0.0/12", "10.144.0.0/12"], vpc_cidr=None)
    config = daemon_json(spec, cloud)
    assert config["live-restore"] is False  # swarm mode rejects live-restore
    assert config["metrics-addr"] == "127.0.0.1:9323"
    assert config["no-new-privileges"] is True
    assert config["userland-proxy"] is False
    assert config["icc"] is False
    # Host-local networks get a pool of their own, clear of the swarm's overlay pools.
    assert config["default-address-pools"] == [{"base": "172.17.0.0/16", "size": 24}]
    assert "nofile" in config["default-ulimits"]  # type: ignore[operator]
    assert "hosts" not in config  # never both in daemon.json and -H
    tuning = host_tuning(spec, "worker", cloud)  # type: ignore[arg-type]
    (daemon_file,) = [f for f in tuning.files if f.path == DAEMON_JSON]
    assert (daemon_file.mode, daemon_file.owner) == (0o644, "root:root")


def test_aws_user_data_leaves_logs_and_prune_to_the_instance_tags() -> None:
    """EnableCloudWatchLogs and EnableSystemPrune may be changed in the console: the AWS user
    data is the same for every value (and both roles); the agent reads the tags at boot."""
    texts = {
        render_user_data(
            make_spec(enable_cloudwatch_logs=logs, enable_system_prune=prune), role, "aws"
        )
        for logs in (True, False)
        for prune in (True, False)
        for role in ("manager", "worker")
    }
    assert len(texts) == 1
    text = texts.pop()
    assert "swarmstack-agent configure" in text
    assert "swarmstack-docker-prune.timer" in text
    config = daemon_json(make_spec(enable_cloudwatch_logs=True), "aws")
    assert config["log-driver"] == "local"  # until the agent finds a log group tag


@pytest.mark.parametrize(
    ("cloud", "cloudwatch"), [("aws", False), ("azure", True), ("generic", True)]
)
def test_local_log_driver_with_rotation_otherwise(cloud: str, cloudwatch: bool) -> None:
    config = daemon_json(make_spec(enable_cloudwatch_logs=cloudwatch), cloud)
    assert config["log-driver"] == "local"
    assert config["log-opts"] == {"max-size": "20m", "max-file": "5"}


def test_no_instance_metadata_outside_the_clouds() -> None:
    text = render_user_data(make_spec(), "worker", "generic")
    assert "169.254.169.254" not in text
    assert "swarmstack-agent" not in text


def test_azure_nodes_run_the_agent_with_the_azure_adapter_and_no_boto3() -> None:
    text = render_user_data(make_spec(), "worker", "azure")
    assert "swarmstack-agent" in text
    assert "nodeagent/azure.py" in text
    assert "python3-boto3" not in text


# --- address pools ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "172.17.0.0/16"),  # swarm 10.0.0.0/8, VPC 172.31.0.0/16
        ({"default_addr_pool": ["172.16.0.0/14"], "vpc_cidr": "10.0.0.0/16"}, "172.20.0.0/16"),
        ({"default_addr_pool": ["10.0.0.0/8"], "vpc_cidr": "172.16.0.0/12"}, "192.168.0.0/16"),
    ],
)
def test_host_local_pool_avoids_the_swarm_pools_and_the_vpc(
    values: dict[str, object], expected: str
) -> None:
    assert str(local_address_pool(make_spec(**values))) == expected


def test_local_machines_keep_local_networks_in_the_benchmark_range() -> None:
    pool = local_address_pool(make_spec(default_addr_pool=["198.19.0.0/18"]), local_machine=True)
    assert str(pool) == "198.19.128.0/18"  # the testbed recipe's own choice
    moved = make_spec(default_addr_pool=["198.19.128.0/17"])
    assert str(local_address_pool(moved, local_machine=True)) == "198.19.64.0/18"


def test_no_room_for_local_networks_is_a_clear_error() -> None:
    spec = make_spec(default_addr_pool=["172.16.0.0/12", "192.168.0.0/16"], vpc_cidr="10.0.0.0/16")
    with pytest.raises(UsageError, match=r"default_addr_pool=172\.16\.0\.0/12,192\.168\.0\.0/16: "):
        render_user_data(spec, "worker", "aws")


# --- prune timer, docker version --------------------------------------------------------------


def test_prune_timer_only_when_asked_and_never_volumes() -> None:
    on = {f.path: f.content for f in host_tuning(LOCAL_SPEC, "worker", "generic").files}
    service = on["/etc/systemd/system/swarmstack-docker-prune.service"]
    timer = on["/etc/systemd/system/swarmstack-docker-prune.timer"]
    exec_lines = [line for line in service.splitlines() if line.startswith("Exec")]
    assert exec_lines == ["ExecStart=/usr/bin/docker system prune --force"]  # never --volumes
    assert "OnCalendar=daily" in timer
    assert "RandomizedDelaySec=" in timer

    off = host_tuning(make_spec(enable_system_prune=False), "worker", "generic")
    assert not any("prune" in f.path for f in off.files)
    assert "/etc/systemd/system/swarmstack-docker-prune.timer" in off.absent_files


@pytest.mark.parametrize(
    ("version", "prefix"), [("28.5", "5:28.5."), ("28.5.1", "5:28.5.1-"), ("27.0", "5:27.0.")]
)
def test_docker_version_pin(version: str, prefix: str) -> None:
    assert docker_apt_version_prefix(version) == prefix
    script = tuning_script(make_spec(docker_version=version), "worker")
    assert f"awk -v want={prefix} " in script
    assert f"Pin: version {prefix}*" in script


def test_distro_docker_uses_the_distribution_package() -> None:
    script = tuning_script(make_spec(docker_version="distro"), "worker")
    assert "apt_get install --no-install-recommends docker.io" in script
    assert "download.docker.com" not in script
    assert (
        "/etc/apt/preferences.d/swarmstack-docker"
        in host_tuning(make_spec(docker_version="distro"), "worker", "generic").absent_files
    )  # no stale pin from an earlier pinned run
