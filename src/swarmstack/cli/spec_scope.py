"""Which spec parameters each command honours, and why it cannot honour the others.

Every command takes the same spec (-f FILE, SWARMSTACK_* variables, one flag per parameter),
so one spec file serves them all. A file or variable may hold parameters a command does not
use (a spec shared between `aws launch-stack` and `bootstrap` is normal); an explicit FLAG the
command cannot honour is refused in one line that says why, never silently ignored. The
refused flags stay hidden from --help, so the help lists only what works.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SIZES = ("manager_size", "cluster_size")
MACHINES = (
    "instance_type",
    "manager_instance_type",
    "manager_disk_size",
    "worker_disk_size",
    "manager_disk_type",
    "worker_disk_type",
)
AWS_ONLY = ("enable_cloudwatch_logs", "log_retention_days", "key_name", "existing_vpc_id")
CLOUD_NETWORK = (
    "ssh_cidr",
    "region",
    "zones",
    "existing_vpc_id",
    "existing_subnet_ids",
    "published_ports",
    "tags",
)
# Applied by the SSH bootstrap when it forms the swarm, not by a template.
SWARM_FORMATION = (
    "default_addr_pool_mask_length",
    "autolock",
    "cert_expiry_hours",
    "managers_accept_workloads",
)


@dataclass(frozen=True)
class SpecScope:
    """How one command takes the spec: refused fields (with why) and renamed flags."""

    refused: Mapping[str, str] = field(default_factory=dict)
    # field -> the flag this command spells it with (e.g. region -> --location on Azure);
    # the usual flag is then refused with a pointer to the command's own name.
    renamed: Mapping[str, str] = field(default_factory=dict)


def _why(fields: Iterable[str], reason: str) -> dict[str, str]:
    return dict.fromkeys(fields, reason)


EVERYTHING = SpecScope()

AWS_STACK = SpecScope(
    refused={"ssh_public_key": "AWS logs in with the EC2 key pair (--key-name)"},
)

AWS_TEMPLATE = SpecScope(
    refused={
        **AWS_STACK.refused,
        **_why(
            SWARM_FORMATION,
            "the template does not form the swarm; `aws launch-stack` or `bootstrap` does",
        ),
    },
)

AZURE_TEMPLATE = SpecScope(
    refused={
        **_why(AWS_ONLY, "it applies to AWS only"),
        **_why(
            SWARM_FORMATION,
            "the template does not form the swarm; `azure deploy` or `bootstrap` does",
        ),
        "region": "an ARM template deploys to its resource group's location",
    },
)

AZURE_DEPLOY = SpecScope(
    refused=_why(AWS_ONLY, "it applies to AWS only"),
    renamed={"region": "--location"},
)

BOOTSTRAP = SpecScope(
    refused={
        **_why(SIZES, "roles and sizes come from the inventory (-i)"),
        **_why(
            MACHINES + AWS_ONLY + CLOUD_NETWORK + ("ssh_public_key",),
            "it works on hosts you already have and creates no cloud resources",
        ),
    },
)

RENDER_CLOUDINIT = SpecScope(
    refused={
        **_why((*SIZES, "name"), "the host tuning is the same for every node of every cluster"),
        **_why(
            MACHINES + CLOUD_NETWORK + ("key_name", "log_retention_days", "existing_vpc_id"),
            "it changes the cloud resources, not the host tuning",
        ),
        **_why(
            (*SWARM_FORMATION, "data_path_port"),
            "it is applied when the swarm is formed, not by the host tuning",
        ),
    },
)

LOCAL_UP = SpecScope(
    refused={
        **_why(
            MACHINES + AWS_ONLY + CLOUD_NETWORK + ("vpc_cidr",),
            "the local machines are systemd-nspawn containers on this host, not cloud resources",
        ),
        "docker_version": "the local machines run the docker.io package of their Debian image",
        "ssh_public_key": "the local machines use the cluster's own key (see `local status`)",
    },
    renamed={"manager_size": "--managers", "cluster_size": "--workers"},
)
