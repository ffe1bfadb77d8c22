"""Which disk becomes /var/lib/docker on AWS: the blank EBS volume, never instance store.

find_data_disk runs in bash against stub lsblk/is_blank_disk describing a Nitro instance.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from swarmstack.cloudinit import render_user_data

from .variants import make_spec

# name, model, blank?  (lsblk -dno MODEL pads with spaces; the stub does too)
NITRO = [
    ("/dev/nvme0n1", "Amazon Elastic Block Store              ", False),  # root: partitioned
    ("/dev/nvme1n1", "Amazon EC2 NVMe Instance Storage        ", True),  # ephemeral
    ("/dev/nvme2n1", "Amazon Elastic Block Store              ", True),  # the data volume
]


def find_data_disk(disks: list[tuple[str, str, bool]]) -> subprocess.CompletedProcess[str]:
    text = render_user_data(make_spec(), "worker", "aws")
    files = {f["path"]: f["content"] for f in yaml.safe_load(text)["write_files"]}
    script = files["/usr/local/sbin/swarmstack-host-setup"]
    function = script[script.index("find_data_disk() {") : script.index("prepare_data_volume() {")]
    names = " ".join(name for name, _, _ in disks)
    models = "\n".join(f'    {name}) echo "{model}" ;;' for name, model, _ in disks)
    blank = " ".join(name for name, _, is_blank in disks if is_blank)
    stubs = f"""
lsblk() {{
    case "$*" in
    "-dpnro NAME") printf '%s\\n' {names} ;;
    -dno\\ MODEL\\ *) case "${{*: -1}}" in
{models}
        esac ;;
    *) return 1 ;;
    esac
}}
is_blank_disk() {{ case " {blank} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }}
"""
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{stubs}\n{function}\nfind_data_disk"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_the_blank_ebs_volume_is_chosen_over_instance_store() -> None:
    result = find_data_disk(NITRO)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "/dev/nvme2n1\n"


@pytest.mark.parametrize(
    "disks",
    [NITRO[:2], NITRO[:1], []],
    ids=["only-instance-store", "only-root", "nothing"],
)
def test_no_durable_blank_disk_means_none(disks: list[tuple[str, str, bool]]) -> None:
    result = find_data_disk(disks)
    assert result.returncode == 1
    assert result.stdout == ""


def test_xen_instances_name_the_volume_xvd() -> None:
    result = find_data_disk([("/dev/xvda", "", False), ("/dev/xvdb", "", True)])
    assert result.stdout == "/dev/xvdb\n"
