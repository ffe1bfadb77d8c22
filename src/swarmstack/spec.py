"""The cluster spec: one typed, validated model of everything a swarm cluster is.

The same ClusterSpec drives AWS, Azure, the local machines and `bootstrap`. Values that only
make sense on one cloud (instance types, disk types) are validated by shape here and resolved
to the cloud's own default by that cloud's code when left unset (None).

Validation messages are written for people: ``must be ...`` plus the reason where one exists.
The loader (swarmstack.specload) prefixes each with the parameter as the user wrote it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .contract import DEFAULT_DATA_PATH_PORT, MANAGER_SIZES, MANAGER_SIZES_PHRASE, TAG_PREFIX
from .errors import as_written, shown

MAX_WORKERS = 1000
DISK_MIN_GIB, DISK_MAX_GIB = 20, 1024
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
# EBS volume types the Docker data volume can use at every allowed size with no more settings.
# io1/io2 need provisioned IOPS and st1/sc1 start at 125 GiB; the template sets neither, so
# they are refused here rather than by CloudFormation half-way through a launch.
AWS_DISK_TYPES = ("gp3", "gp2", "standard")
AWS_UNSUPPORTED_DISK_TYPES = ("io1", "io2", "st1", "sc1")
AZURE_DISK_TYPES = (
    "Premium_LRS", "PremiumV2_LRS", "Premium_ZRS", "StandardSSD_LRS", "StandardSSD_ZRS",
    "Standard_LRS",
)  # fmt: skip

# Shapes, not allow-lists: new instance families must work without a release of ours.
# AWS: family[generation][attributes].size, e.g. t3.medium, m7i-flex.large, u-6tb1.metal.
AWS_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[a-z0-9-]+$")
# Azure: Standard_<series><size>[_v<n>], e.g. Standard_D2s_v5, Standard_B2ms, Basic_A1.
AZURE_VM_SIZE = re.compile(r"^(Standard|Basic)_[A-Za-z][A-Za-z0-9_-]*$")
NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
AZURE_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,39}$")
DOCKER_VERSION = re.compile(r"^(\d+\.\d+(\.\d+)?|distro)$")
AWS_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
AWS_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
AZURE_SUBNET_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/"
    r"virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)
SSH_PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) "
    r"[A-Za-z0-9+/=]+( .*)?$"
)
TAG_KEY = re.compile(r"^[A-Za-z0-9 _.:/=+@-]{1,127}$")
MAX_TAG_VALUE = 255
# Any cloud's zone name: AWS us-east-1a (or a local zone us-west-2-lax-1a), Azure 1/2/3.
# Each cloud checks its own exact form before it builds anything.
ZONE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# EC2 key pair names: up to 255 printable ASCII characters.
KEY_NAME = re.compile(r"[ -~]{1,255}")


def _comma_list(value: Any) -> Any:
    """Environment variables and flags give lists as 'a,b,c'."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _tag_pairs(value: Any) -> Any:
    """Environment variables and flags give tags as 'key=value,key=value'."""
    if isinstance(value, str):
        pairs = [item.partition("=") for item in value.split(",") if item.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("must be key=value pairs separated by commas")
        return {key.strip(): val.strip() for key, _, val in pairs}
    return value


def _reject_bool(value: Any) -> Any:
    """YAML's `yes` is a boolean; it must not quietly become the number 1."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    return value


def _check_name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError(
            "must be 1-32 characters of lowercase letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen"
        )
    return value


def _check_manager_size(value: int) -> int:
    if value not in MANAGER_SIZES:
        if value > 0 and value % 2 == 0:
            raise ValueError(
                f"must be {MANAGER_SIZES_PHRASE} (an even count adds no fault tolerance)"
            )
        raise ValueError(
            f"must be {MANAGER_SIZES_PHRASE} "
            "(raft quorum needs an odd count; more than 7 slows every write)"
        )
    return value


def _check_cluster_size(value: int) -> int:
    if not 0 <= value <= MAX_WORKERS:
        raise ValueError(f"must be between 0 and {MAX_WORKERS} workers")
    return value


def _check_disk_size(value: int) -> int:
    if not DISK_MIN_GIB <= value <= DISK_MAX_GIB:
        raise ValueError(f"must be between {DISK_MIN_GIB} and {DISK_MAX_GIB} GiB")
    return value


def _check_instance_type(value: str | None) -> str | None:
    if value is not None and not (
        AWS_INSTANCE_TYPE.fullmatch(value) or AZURE_VM_SIZE.fullmatch(value)
    ):
        raise ValueError(
            "must be an AWS instance type like m7i.large or an Azure VM size like Standard_D2s_v5"
        )
    return value


def _check_disk_type(value: str | None) -> str | None:
    if value in AWS_UNSUPPORTED_DISK_TYPES:
        raise ValueError(
            f"must be {', '.join(AWS_DISK_TYPES)} on AWS (io1/io2 need provisioned IOPS and "
            "st1/sc1 at least 125 GiB, which swarmstack does not set up) or an Azure disk SKU "
            f"({', '.join(AZURE_DISK_TYPES)})"
        )
    if value is not None and value not in AWS_DISK_TYPES + AZURE_DISK_TYPES:
        raise ValueError(
            f"must be an AWS volume type ({', '.join(AWS_DISK_TYPES)}) "
            f"or an Azure disk SKU ({', '.join(AZURE_DISK_TYPES)})"
        )
    return value


def _check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            "must be one of CloudWatch's retention periods: "
            + ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        )
    return value


def _check_cidr(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(
            "must be an IPv4 network in CIDR form with no host bits set, like 203.0.113.0/24"
        ) from None
    if network.version != 4:
        raise ValueError("must be an IPv4 network (IPv6 is not supported yet)")
    return value


def _check_pools(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("must name at least one address pool")
    for cidr in value:
        _check_cidr(cidr)
    return value


def _check_mask_length(value: int) -> int:
    if not 16 <= value <= 28:
        raise ValueError("must be between 16 and 28 (the size of each overlay network's subnet)")
    return value


def _check_data_path_port(value: int) -> int:
    if not 1024 <= value <= 49151:
        raise ValueError("must be a port between 1024 and 49151 (docker's rule for the VXLAN port)")
    return value


def _check_cert_expiry(value: int) -> int:
    if not 1 <= value <= 87600:
        raise ValueError("must be between 1 and 87600 hours (docker needs at least one hour)")
    return value


def _check_region(value: str | None) -> str | None:
    if value is not None and not (AWS_REGION.fullmatch(value) or AZURE_LOCATION.fullmatch(value)):
        raise ValueError(
            "must be an AWS region like eu-west-1 or an Azure location like westeurope"
        )
    return value


def _check_docker_version(value: str) -> str:
    if not DOCKER_VERSION.fullmatch(value):
        raise ValueError(
            "must be a Docker Engine version like 28.5 or 28.5.1, "
            "or 'distro' for the distribution's package"
        )
    return value


def _check_ssh_public_key(value: str | None) -> str | None:
    if value is not None and not SSH_PUBLIC_KEY.fullmatch(value.strip()):
        raise ValueError("must be an OpenSSH public key line like 'ssh-ed25519 AAAA... comment'")
    return None if value is None else value.strip()


def _check_zones(value: list[str]) -> list[str]:
    for zone in value:
        if not ZONE.fullmatch(zone):
            raise ValueError(
                f"must be zone names like eu-west-1a (AWS) or 1, 2, 3 (Azure); "
                f"{as_written(zone)} is not"
            )
    if len(set(value)) != len(value):
        raise ValueError("must not list a zone twice")
    return value


def _check_key_name(value: str | None) -> str | None:
    if value is not None and (not KEY_NAME.fullmatch(value) or value.strip() != value):
        raise ValueError(
            "must be an EC2 key pair name: 1-255 printable ASCII characters, "
            "no control characters and no leading or trailing spaces"
        )
    return value


def _check_ports(value: list[int]) -> list[int]:
    for port in value:
        if not 1 <= port <= 65535:
            raise ValueError(f"must be ports between 1 and 65535 ({shown(port)} is not)")
        if port == 22:
            raise ValueError("must not include 22 (SSH is never published to the world)")
    if len(set(value)) != len(value):
        raise ValueError("must not list a port twice")
    return sorted(value)


def _check_subnet_ids(value: list[str]) -> list[str]:
    for subnet in value:
        if not (AWS_SUBNET_ID.fullmatch(subnet) or AZURE_SUBNET_ID.fullmatch(subnet)):
            raise ValueError(
                f"must be AWS subnet ids like subnet-0123abcd or Azure subnet resource ids "
                f"({as_written(subnet)} is neither)"
            )
    return value


def _check_vpc_id(value: str | None) -> str | None:
    if value is not None and not AWS_VPC_ID.fullmatch(value):
        raise ValueError("must be an AWS VPC id like vpc-0123abcd")
    return value


# aws: belongs to AWS. swarmstack's own tags (contract.py; swarmstack: is the spelling of
# earlier builds) would silently win over a user tag of the same key: refused on every cloud.
_RESERVED_TAG_PREFIXES = ("aws:", "swarmstack:", TAG_PREFIX)


def _check_tags(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        if not TAG_KEY.fullmatch(key) or key.lower().startswith(_RESERVED_TAG_PREFIXES):
            raise ValueError(
                f"tag key {shown(key)} must be 1-127 letters, digits, spaces or _.:/=+@- "
                f"and not start with {', '.join(_RESERVED_TAG_PREFIXES)}"
            )
        if len(text) > MAX_TAG_VALUE or not text.isprintable():
            raise ValueError(
                f"tag {shown(key)} must have a value of at most {MAX_TAG_VALUE} printable "
                "characters (no newlines or control characters)"
            )
    return value


Int = Annotated[int, BeforeValidator(_reject_bool)]
Name = Annotated[str, AfterValidator(_check_name)]
ManagerSize = Annotated[Int, AfterValidator(_check_manager_size)]
ClusterSize = Annotated[Int, AfterValidator(_check_cluster_size)]
DiskSize = Annotated[Int, AfterValidator(_check_disk_size)]
InstanceType = Annotated[str | None, AfterValidator(_check_instance_type)]
DiskType = Annotated[str | None, AfterValidator(_check_disk_type)]
Cidr = Annotated[str | None, AfterValidator(_check_cidr)]
StrList = Annotated[list[str], BeforeValidator(_comma_list)]
IntList = Annotated[list[Int], BeforeValidator(_comma_list)]


class ClusterSpec(BaseModel):
    """Everything a swarm cluster is. Field names are the YAML keys (snake_case)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    name: Name = Field("swarm", description="Cluster name; names the stack and its resources.")
    manager_size: ManagerSize = Field(3, description=f"Swarm managers: {MANAGER_SIZES_PHRASE}.")
    cluster_size: ClusterSize = Field(5, description="Swarm workers: 0..1000.")
    instance_type: InstanceType = Field(
        None, description="Worker instance type or VM size; unset = the cloud's default."
    )
    manager_instance_type: InstanceType = Field(
        None, description="Manager instance type or VM size; unset = the cloud's default."
    )
    manager_disk_size: DiskSize = Field(20, description="Manager Docker data disk, GiB.")
    worker_disk_size: DiskSize = Field(20, description="Worker Docker data disk, GiB.")
    manager_disk_type: DiskType = Field(None, description="Manager disk type; unset = default.")
    worker_disk_type: DiskType = Field(None, description="Worker disk type; unset = default.")
    enable_system_prune: bool = Field(False, description="Daily `docker system prune`.")
    enable_cloudwatch_logs: bool = Field(True, description="Container logs to CloudWatch (AWS).")
    log_retention_days: Annotated[Int, AfterValidator(_check_retention)] = Field(
        30, description="CloudWatch log retention in days."
    )
    key_name: Annotated[str | None, AfterValidator(_check_key_name)] = Field(
        None, description="AWS EC2 key pair name."
    )
    ssh_public_key: Annotated[str | None, AfterValidator(_check_ssh_public_key)] = Field(
        None, description="OpenSSH public key for the admin user (Azure, local)."
    )
    ssh_cidr: Cidr = Field(None, description="Network allowed to SSH in; unset = no SSH ingress.")
    docker_version: Annotated[str, AfterValidator(_check_docker_version)] = Field(
        "28.5", description="Docker Engine version from Docker's apt repository, or 'distro'."
    )
    default_addr_pool: Annotated[StrList, AfterValidator(_check_pools)] = Field(
        default_factory=lambda: ["10.0.0.0/8"],
        description="Address pools for swarm overlay networks.",
    )
    default_addr_pool_mask_length: Annotated[Int, AfterValidator(_check_mask_length)] = Field(
        24, description="Prefix length of each overlay network's subnet."
    )
    data_path_port: Annotated[Int, AfterValidator(_check_data_path_port)] = Field(
        DEFAULT_DATA_PATH_PORT, description="UDP port for VXLAN overlay traffic."
    )
    autolock: bool = Field(False, description="Encrypt raft logs; managers need unlock on restart.")
    cert_expiry_hours: Annotated[Int, AfterValidator(_check_cert_expiry)] = Field(
        2160, description="Validity of node certificates, hours (docker default 90 days)."
    )
    managers_accept_workloads: bool = Field(
        True, description="Run service tasks on managers; false drains them."
    )
    region: Annotated[str | None, AfterValidator(_check_region)] = Field(
        None, description="AWS region or Azure location; unset = the SDK's default."
    )
    zones: Annotated[StrList, AfterValidator(_check_zones)] = Field(
        default_factory=list, description="Availability zones; unset = chosen at launch."
    )
    vpc_cidr: Cidr = Field("172.31.0.0/16", description="CIDR of a new VPC / virtual network.")
    existing_vpc_id: Annotated[str | None, AfterValidator(_check_vpc_id)] = Field(
        None, description="Deploy into this existing AWS VPC."
    )
    existing_subnet_ids: Annotated[StrList, AfterValidator(_check_subnet_ids)] = Field(
        default_factory=list, description="Existing subnets (AWS ids or Azure resource ids)."
    )
    published_ports: Annotated[IntList, AfterValidator(_check_ports)] = Field(
        default_factory=lambda: [80, 443], description="Ports the load balancer forwards."
    )
    tags: Annotated[dict[str, str], BeforeValidator(_tag_pairs), AfterValidator(_check_tags)] = (
        Field(default_factory=dict, description="Tags on every cloud resource.")
    )

    @model_validator(mode="after")
    def _check_combinations(self) -> ClusterSpec:
        problems: list[tuple[str, Any, str]] = []
        if self.existing_vpc_id and not self.existing_subnet_ids:
            problems.append(
                ("existing_subnet_ids", [], "must list the subnets to use in existing_vpc_id")
            )
        aws_subnets = any(s.startswith("subnet-") for s in self.existing_subnet_ids)
        if aws_subnets and not self.existing_vpc_id:
            problems.append(
                ("existing_vpc_id", None, "must be set when existing_subnet_ids are AWS subnets")
            )
        vpc = ipaddress.ip_network(self.vpc_cidr) if self.vpc_cidr else None
        for pool in self.default_addr_pool:
            pool_net = ipaddress.ip_network(pool)
            if vpc is not None and pool_net.overlaps(vpc):
                problems.append(
                    (
                        "default_addr_pool",
                        pool,
                        f"must not overlap vpc_cidr {self.vpc_cidr} "
                        "(overlay subnets would shadow host addresses)",
                    )
                )
            if pool_net.prefixlen > self.default_addr_pool_mask_length:
                problems.append(
                    (
                        "default_addr_pool_mask_length",
                        self.default_addr_pool_mask_length,
                        f"must be at least the pool's own prefix length /{pool_net.prefixlen}",
                    )
                )
        if problems:
            raise CombinationError(problems)
        return self


class CombinationError(ValueError):
    """Raised by the model validator: problems that involve several parameters."""

    def __init__(self, problems: list[tuple[str, Any, str]]) -> None:
        super().__init__("; ".join(message for _, _, message in problems))
        self.problems = problems


SPEC_FIELDS: tuple[str, ...] = tuple(ClusterSpec.model_fields)
Cloud = Literal["aws", "azure", "generic"]
Role = Literal["manager", "worker"]
