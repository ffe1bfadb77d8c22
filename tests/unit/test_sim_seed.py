"""cloud-init's NoCloud seed for simulated instances: the user data untouched, the endpoints
as a vendor boothook that every later process sees."""

from __future__ import annotations

import gzip
import ipaddress
import json
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from swarmstack.provisioners.local.plan import SWARM_POOL_RANGE
from swarmstack.provisioners.local.sim.seed import (
    DAEMON_SCRIPT,
    Endpoints,
    nocloud_files,
    write_seed,
)

ENDPOINTS = Endpoints(aws="http://198.18.3.1:5000", metadata="http://198.18.3.1:8169/")


def test_user_data_is_written_as_ec2_hands_it_gzip_included(tmp_path: Path) -> None:
    user_data = gzip.compress(b"#cloud-config\nruncmd: [[true]]\n", mtime=0)
    directory = write_seed(tmp_path, nocloud_files(user_data, "i-1", "i-1", ENDPOINTS))
    assert directory == tmp_path / "var/lib/cloud/seed/nocloud"
    assert (directory / "user-data").read_bytes() == user_data
    assert (directory / "meta-data").read_text() == "instance-id: i-1\nlocal-hostname: i-1\n"
    assert (directory / "user-data").stat().st_mode & 0o077 == 0


def test_vendor_data_is_a_boothook_setting_both_variables_everywhere() -> None:
    vendor = nocloud_files(b"", "i-1", "i-1", ENDPOINTS)["vendor-data"].decode()
    assert vendor.startswith("#cloud-boothook\n#!/bin/sh\n")
    assert (
        "systemctl set-environment AWS_ENDPOINT_URL=http://198.18.3.1:5000 "
        "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://198.18.3.1:8169/" in vendor
    )
    assert (
        'DefaultEnvironment="AWS_ENDPOINT_URL=http://198.18.3.1:5000" '
        '"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://198.18.3.1:8169/"' in vendor
    )
    assert "169.254.169.254" not in vendor


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_the_boothook_is_valid_shell() -> None:
    vendor = nocloud_files(b"", "i-1", "i-1", ENDPOINTS)["vendor-data"].decode()
    script = vendor.split("\n", 1)[1]
    subprocess.run(["sh", "-n"], input=script, text=True, check=True)


def _pool_script() -> str:
    vendor = nocloud_files(b"", "i-1", "i-1", ENDPOINTS)["vendor-data"].decode()
    return vendor.split(f"cat >{DAEMON_SCRIPT} <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]


def test_docker_runs_the_pool_correction_before_every_start() -> None:
    vendor = nocloud_files(b"", "i-1", "i-1", ENDPOINTS)["vendor-data"].decode()
    assert f"ExecStartPre={DAEMON_SCRIPT}" in vendor
    assert vendor.rstrip().endswith("systemctl daemon-reload")


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3")
def test_the_user_datas_pool_and_file_limit_are_fitted_to_the_machine(tmp_path: Path) -> None:
    """The cloud's daemon.json: pool in the benchmark range, nofile capped, the rest kept."""
    daemon_json = tmp_path / "daemon.json"
    cloud = {
        "default-address-pools": [{"base": "172.17.0.0/16", "size": 24}],
        "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 2**40, "Soft": 2**40}},
        "icc": False,
    }
    daemon_json.write_text(json.dumps(cloud))
    script = tmp_path / "pools"
    script.write_text(_pool_script())
    subprocess.run(["python3", str(script), str(daemon_json)], check=True)
    config = json.loads(daemon_json.read_text())
    assert config["icc"] is False
    (pool,) = config["default-address-pools"]
    base = ipaddress.IPv4Network(pool["base"])
    assert base.subnet_of(ipaddress.IPv4Network("198.18.0.0/15"))
    assert not base.overlaps(SWARM_POOL_RANGE)  # the overlays' pools stay clear of it
    # No process may be granted more open files than its own hard limit allows it to give.
    allowed = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = config["default-ulimits"]["nofile"]
    assert nofile["Hard"] == (2**40 if allowed == resource.RLIM_INFINITY else allowed)
    assert nofile["Soft"] == nofile["Hard"]
