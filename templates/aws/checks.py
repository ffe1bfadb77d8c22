"""Spec values that are valid in general but not on AWS, reported before anything is built."""

from __future__ import annotations

from ...errors import SpecError
from ...spec import AWS_DISK_TYPES, AWS_INSTANCE_TYPE, AWS_REGION, ClusterSpec
from .network import network_problems
from .tags import tag_problems

MAX_LISTENERS = 50


def check_spec_for_aws(spec: ClusterSpec) -> None:
    """Raise SpecError listing every problem at once, one line each."""
    problems: list[str] = []
    if spec.region is not None and not AWS_REGION.fullmatch(spec.region):
        problems.append(f"region={spec.region}: on AWS must be a region like eu-west-1")
    for field in ("instance_type", "manager_instance_type"):
        value = getattr(spec, field)
        if value is not None and not AWS_INSTANCE_TYPE.fullmatch(value):
            problems.append(f"{field}={value}: on AWS must be an EC2 instance type like m7i.large")
    for field in ("manager_disk_type", "worker_disk_type"):
        value = getattr(spec, field)
        # The spec allows only these and Azure's SKUs: what is left here is an Azure SKU.
        if value is not None and value not in AWS_DISK_TYPES:
            problems.append(
                f"{field}={value}: on AWS must be {', '.join(AWS_DISK_TYPES)} (an EBS volume "
                "type; this is an Azure disk SKU)"
            )
    if len(spec.published_ports) > MAX_LISTENERS:
        problems.append(
            f"published_ports={','.join(map(str, spec.published_ports))}: on AWS at most "
            f"{MAX_LISTENERS} ports (a network load balancer's listener limit)"
        )
    problems += network_problems(spec)
    problems += tag_problems(spec)
    if problems:
        raise SpecError(problems)
