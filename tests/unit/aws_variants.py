"""The spec variants whose rendered templates are kept as reviewed golden files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from swarmstack.spec import ClusterSpec

GOLDEN_DIR = Path(__file__).parent / "golden" / "aws"


def spec_of(**values: Any) -> ClusterSpec:
    """A validated spec from keyword values (as the loader builds it from a file)."""
    return ClusterSpec.model_validate(values)


VARIANTS: dict[str, ClusterSpec] = {
    # `swarmstack aws template` with no input at all.
    "default": spec_of(),
    "existing-vpc": spec_of(
        existing_vpc_id="vpc-0123456789abcdef0",
        existing_subnet_ids=["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    ),
    "five-managers-prune-no-cloudwatch": spec_of(
        manager_size=5, enable_system_prune=True, enable_cloudwatch_logs=False
    ),
    # Everything else a spec can change: SSH open to one network, a key pair, two zones, a
    # smaller VPC, own instance and disk types, tags, and no load balancer at all.
    "ssh-zones-no-ports": spec_of(
        name="prod",
        cluster_size=2,
        key_name="ops-2026",
        ssh_cidr="203.0.113.0/24",
        zones=["eu-west-1a", "eu-west-1b"],
        vpc_cidr="192.168.16.0/20",
        instance_type="m7i.large",
        manager_instance_type="t3.large",
        manager_disk_type="gp2",
        worker_disk_size=100,
        log_retention_days=90,
        data_path_port=4790,
        published_ports=[],
        tags={"team": "platform", "cost-center": "42"},
    ),
    # Shared storage (EFS) in a new VPC, and in an existing VPC's subnets.
    "shared-storage": spec_of(shared_storage=True),
    "shared-storage-existing-vpc": spec_of(
        shared_storage=True,
        existing_vpc_id="vpc-0123456789abcdef0",
        existing_subnet_ids=["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    ),
}


def golden_path(name: str, fmt: str = "json") -> Path:
    return GOLDEN_DIR / f"{name}.{fmt}"
