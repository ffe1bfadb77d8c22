"""Bad cluster specs: every case gets the exact one-line message and exit code 2, no traceback.

Each row is (spec file text or None, environment, command-line flags, expected stderr lines).
The messages name the parameter the way the user wrote it: the file's key, the
SWARMSTACK_* variable or the --flag.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.errors import ExitCode

ODD = "must be 1, 3, 5 or 7 (an even count adds no fault tolerance)"
RAFT = "must be 1, 3, 5 or 7 (raft quorum needs an odd count; more than 7 slows every write)"
WORKERS = "must be between 0 and 1000 workers"
DISK = "must be between 20 and 1024 GiB"
WHOLE = "must be a whole number"
BOOL = "must be true or false (yes/no)"
CIDR = "must be an IPv4 network in CIDR form with no host bits set, like 203.0.113.0/24"
ITYPE = "must be an AWS instance type like m7i.large or an Azure VM size like Standard_D2s_v5"
NAME = (
    "must be 1-32 characters of lowercase letters, digits and hyphens, "
    "starting with a letter and not ending with a hyphen"
)

CASES: list[tuple[str, str | None, dict[str, str], list[str], list[str] | None]] = [
    # id, file text, environment, flags, expected error lines (without the "error: " prefix)
    ("even-managers-file", "manager_size: 2\n", {}, [], [f"manager_size=2: {ODD}"]),
    ("even-managers-flag", None, {}, ["--manager-size", "4"], [f"--manager-size=4: {ODD}"]),
    ("managers-zero", None, {}, ["--manager-size", "0"], [f"--manager-size=0: {RAFT}"]),
    ("managers-nine", "manager_size: 9\n", {}, [], [f"manager_size=9: {RAFT}"]),
    ("managers-negative", "manager_size: -1\n", {}, [], [f"manager_size=-1: {RAFT}"]),
    ("managers-text", "manager_size: three\n", {}, [], [f"manager_size=three: {WHOLE}"]),
    (
        "managers-bool",
        "manager_size: yes\n",
        {},
        [],
        ["manager_size=true: must be a whole number, not true/false"],
    ),
    ("managers-float", "manager_size: 3.5\n", {}, [], [f"manager_size=3.5: {WHOLE}"]),
    ("workers-over", None, {}, ["--cluster-size", "1001"], [f"--cluster-size=1001: {WORKERS}"]),
    ("workers-under", "cluster_size: -1\n", {}, [], [f"cluster_size=-1: {WORKERS}"]),
    ("disk-under", None, {}, ["--manager-disk-size", "19"], [f"--manager-disk-size=19: {DISK}"]),
    ("disk-over", None, {}, ["--worker-disk-size", "1025"], [f"--worker-disk-size=1025: {DISK}"]),
    (
        "disk-type",
        "worker_disk_type: ssd\n",
        {},
        [],
        [
            "worker_disk_type=ssd: must be an AWS volume type (gp3, gp2, standard) "
            "or an Azure disk SKU (Premium_LRS, PremiumV2_LRS, Premium_ZRS, "
            "StandardSSD_LRS, StandardSSD_ZRS, Standard_LRS)"
        ],
    ),
    *[
        (
            f"disk-type-{kind}",
            None,
            {},
            ["--manager-disk-type", kind],
            [
                f"--manager-disk-type={kind}: must be gp3, gp2, standard on AWS (io1/io2 need "
                "provisioned IOPS and st1/sc1 at least 125 GiB, which swarmstack does not set "
                "up) or an Azure disk SKU (Premium_LRS, PremiumV2_LRS, Premium_ZRS, "
                "StandardSSD_LRS, StandardSSD_ZRS, Standard_LRS)"
            ],
        )
        for kind in ("io1", "io2", "st1", "sc1")
    ],
    ("instance-type", None, {}, ["--instance-type", "large"], [f"--instance-type=large: {ITYPE}"]),
    (
        "manager-instance-type",
        "manager_instance_type: M5.LARGE\n",
        {},
        [],
        [f"manager_instance_type=M5.LARGE: {ITYPE}"],
    ),
    ("empty-name", "name: ''\n", {}, [], [f"name='': {NAME}"]),
    ("name-uppercase", None, {}, ["--name", "Prod"], [f"--name=Prod: {NAME}"]),
    ("name-trailing-hyphen", None, {}, ["--name", "prod-"], [f"--name=prod-: {NAME}"]),
    ("bad-cidr", None, {}, ["--ssh-cidr", "10.0.0.0/33"], [f"--ssh-cidr=10.0.0.0/33: {CIDR}"]),
    ("cidr-host-bits", "ssh_cidr: 10.0.0.1/24\n", {}, [], [f"ssh_cidr=10.0.0.1/24: {CIDR}"]),
    (
        "cidr-ipv6",
        "ssh_cidr: '2001:db8::/32'\n",
        {},
        [],
        ["ssh_cidr=2001:db8::/32: must be an IPv4 network (IPv6 is not supported yet)"],
    ),
    (
        "prune-not-bool",
        None,
        {},
        ["--enable-system-prune", "maybe"],
        None,  # a click boolean flag takes no value: a usage error, see below
    ),
    (
        "prune-env-not-bool",
        None,
        {"SWARMSTACK_ENABLE_SYSTEM_PRUNE": "maybe"},
        [],
        [f"SWARMSTACK_ENABLE_SYSTEM_PRUNE=maybe: {BOOL}"],
    ),
    (
        "retention",
        "log_retention_days: 10\n",
        {},
        [],
        [
            "log_retention_days=10: must be one of CloudWatch's retention periods: 1, 3, 5, 7, "
            "14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, "
            "3288, 3653"
        ],
    ),
    (
        "mask-length",
        None,
        {},
        ["--default-addr-pool-mask-length", "30"],
        [
            "--default-addr-pool-mask-length=30: must be between 16 and 28 "
            "(the size of each overlay network's subnet)"
        ],
    ),
    (
        "pool-overlaps-vpc",
        "default_addr_pool: [172.31.16.0/20]\n",
        {},
        [],
        [
            "default_addr_pool=172.31.16.0/20: must not overlap vpc_cidr 172.31.0.0/16 "
            "(overlay subnets would shadow host addresses)"
        ],
    ),
    (
        "data-path-port",
        None,
        {},
        ["--data-path-port", "80"],
        [
            "--data-path-port=80: must be a port between 1024 and 49151 "
            "(docker's rule for the VXLAN port)"
        ],
    ),
    (
        "published-ssh",
        "published_ports: [80, 22]\n",
        {},
        [],
        ["published_ports=80,22: must not include 22 (SSH is never published to the world)"],
    ),
    (
        "published-port-range",
        None,
        {},
        ["--published-ports", "80,70000"],
        ["--published-ports=80,70000: must be ports between 1 and 65535 (70000 is not)"],
    ),
    (
        "docker-version",
        "docker_version: latest\n",
        {},
        [],
        [
            "docker_version=latest: must be a Docker Engine version like 28.5 or 28.5.1, "
            "or 'distro' for the distribution's package"
        ],
    ),
    (
        "vpc-without-subnets",
        "existing_vpc_id: vpc-0123abcd\n",
        {},
        [],
        ["existing_subnet_ids=: must list the subnets to use in existing_vpc_id"],
    ),
    (
        "subnet-id",
        "existing_vpc_id: vpc-0123abcd\nexisting_subnet_ids: [sub-1]\n",
        {},
        [],
        [
            "existing_subnet_ids=sub-1: must be AWS subnet ids like subnet-0123abcd or Azure "
            "subnet resource ids (sub-1 is neither)"
        ],
    ),
    (
        "region",
        None,
        {},
        ["--region", "EU_WEST"],
        [
            "--region=EU_WEST: must be an AWS region like eu-west-1 or an Azure location "
            "like westeurope"
        ],
    ),
    (
        "ssh-key",
        "ssh_public_key: not-a-key\n",
        {},
        [],
        [
            "ssh_public_key=not-a-key: must be an OpenSSH public key line like "
            "'ssh-ed25519 AAAA... comment'"
        ],
    ),
    (
        "tags-reserved",
        "tags: {'aws:owner': me}\n",
        {},
        [],
        [
            "tags={'aws:owner': 'me'}: tag key 'aws:owner' must be 1-127 letters, digits, "
            "spaces or _.:/=+@- and not start with aws:, swarmstack:, swarmstack-"
        ],
    ),
    (
        "tags-reserved-swarmstack",
        None,
        {},
        ["--tags", "swarmstack-role=x"],
        [
            "--tags=swarmstack-role=x: tag key 'swarmstack-role' must be 1-127 letters, digits, "
            "spaces or _.:/=+@- and not start with aws:, swarmstack:, swarmstack-"
        ],
    ),
    (
        "unknown-key",
        "manager_size: 3\nmanagr_size: 3\n",
        {},
        [],
        ["{file}: managr_size: unknown parameter (did you mean manager_size?)"],
    ),
    (
        "malformed-yaml",
        "manager_size: [3\n",
        {},
        [],
        ["{file}: line 2, column 1: not valid YAML (did not find expected ',' or ']')"],
    ),
    (
        "not-a-mapping",
        "- manager_size\n",
        {},
        [],
        ["{file}: must be a mapping of parameters (key: value), not list"],
    ),
    (
        "several-at-once",
        "manager_size: 2\ncluster_size: 2000\n",
        {},
        ["--worker-disk-size", "5"],
        [
            f"manager_size=2: {ODD}",
            f"cluster_size=2000: {WORKERS}",
            f"--worker-disk-size=5: {DISK}",
        ],
    ),
    # Precedence: the flag wins over the environment, which wins over the file, so the
    # reported (bad) value and its name come from the winning source.
    (
        "flag-beats-env-and-file",
        "manager_size: 3\n",
        {"SWARMSTACK_MANAGER_SIZE": "5"},
        ["--manager-size", "6"],
        [f"--manager-size=6: {ODD}"],
    ),
    (
        "env-beats-file",
        "manager_size: 3\n",
        {"SWARMSTACK_MANAGER_SIZE": "8"},
        [],
        [f"SWARMSTACK_MANAGER_SIZE=8: {ODD}"],
    ),
]


@pytest.mark.parametrize(
    ("file_text", "env", "flags", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_gives_exact_lines_and_exit_2(
    tmp_path: Path,
    file_text: str | None,
    env: dict[str, str],
    flags: list[str],
    expected: list[str] | None,
) -> None:
    spec_file = tmp_path / "cluster.yaml"
    spec_file.write_text(file_text or "", encoding="utf-8")
    result = CliRunner().invoke(cli, ["spec", "validate", str(spec_file), *flags], env=env)

    assert result.exit_code == ExitCode.USAGE
    assert "Traceback" not in result.output
    assert result.stdout == ""
    if expected is None:  # rejected by the command line parser itself
        assert "Error:" in result.stderr
        return
    lines = [line.replace("{file}", str(spec_file)) for line in expected]
    assert result.stderr.splitlines() == [f"error: {line}" for line in lines]


def test_good_values_from_every_source_are_merged_by_precedence(tmp_path: Path) -> None:
    spec_file = tmp_path / "cluster.yaml"
    spec_file.write_text("manager_size: 1\ncluster_size: 7\nname: from-file\n", encoding="utf-8")
    env = {"SWARMSTACK_CLUSTER_SIZE": "9", "SWARMSTACK_NAME": "from-env"}
    result = CliRunner().invoke(
        cli, ["-o", "json", "spec", "validate", str(spec_file), "--name", "from-flag"], env=env
    )
    assert result.exit_code == ExitCode.OK, result.output

    spec = json.loads(result.stdout)
    assert (spec["manager_size"], spec["cluster_size"], spec["name"]) == (1, 9, "from-flag")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    spec_file = tmp_path / "cluster.yaml"
    spec_file.write_text("manager_size: 2\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--debug", "spec", "validate", str(spec_file)])
    assert result.exit_code == ExitCode.USAGE
    assert "Traceback" in result.stderr
