"""cloud-init's NoCloud seed for simulated instances: the user data untouched, the endpoints
as a vendor boothook that every later process sees."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from swarmstack.provisioners.local.sim.seed import Endpoints, nocloud_files, write_seed

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
