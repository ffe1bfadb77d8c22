"""Stack parameters (Docker for AWS names, real constraints, defaults from the spec) and the
console metadata that groups and labels them.

CloudFormation does not check cross-parameter rules for us in every tool (moto checks none),
so the spec has already validated the defaults; the constraints here protect console users.
"""

from __future__ import annotations

import re
from typing import Any

from troposphere import Parameter, Template

from ...contract import MANAGER_SIZES, MANAGER_SIZES_PHRASE
from ...spec import (
    AWS_DISK_TYPES,
    AWS_INSTANCE_TYPE,
    DISK_MAX_GIB,
    DISK_MIN_GIB,
    LOG_RETENTION_DAYS,
    MAX_WORKERS,
    ClusterSpec,
)

KEY_NAME = "KeyName"
MANAGER_SIZE = "ManagerSize"
CLUSTER_SIZE = "ClusterSize"
MANAGER_INSTANCE_TYPE = "ManagerInstanceType"
INSTANCE_TYPE = "InstanceType"
MANAGER_DISK_SIZE = "ManagerDiskSize"
WORKER_DISK_SIZE = "WorkerDiskSize"
MANAGER_DISK_TYPE = "ManagerDiskType"
WORKER_DISK_TYPE = "WorkerDiskType"
ENABLE_SYSTEM_PRUNE = "EnableSystemPrune"
ENABLE_CLOUDWATCH_LOGS = "EnableCloudWatchLogs"
LOG_RETENTION = "LogRetentionInDays"
LOG_KMS_KEY_ARN = "LogKmsKeyArn"
SSH_CIDR = "SshCidr"
AMI = "AmiId"
ROOT_DEVICE_NAME = "RootDeviceName"
AVAILABILITY_ZONES = ("AvailabilityZone1", "AvailabilityZone2", "AvailabilityZone3")
VPC = "Vpc"
SUBNETS = "Subnets"

DEFAULT_INSTANCE_TYPE = "t3.medium"
DEFAULT_DISK_TYPE = "gp3"
DEFAULT_AMI = "/aws/service/debian/release/12/latest/amd64"
ROOT_DEVICE_NAMES = ("/dev/xvda", "/dev/sda1")

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
CIDR_PATTERN = rf"^{_IPV4}/([0-9]|[1-2][0-9]|3[0-2])$"
# One definition of an AWS zone name: the parameter's AllowedPattern and the check of the
# spec's zones before rendering (so a default never fails the template's own pattern).
AWS_ZONE = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]")
ZONE_PATTERN = rf"^$|^{AWS_ZONE.pattern}$"
VPC_ID_PATTERN = r"^$|^vpc-[0-9a-f]{8,17}$"
# Single-region (uuid) and multi-region (mrk-...) key ARNs in any partition.
KMS_KEY_ARN_PATTERN = (
    r"^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})$"
)

LABELS = {
    KEY_NAME: "EC2 key pair for SSH",
    MANAGER_SIZE: "Number of swarm managers",
    CLUSTER_SIZE: "Number of swarm workers",
    MANAGER_INSTANCE_TYPE: "Manager instance type",
    INSTANCE_TYPE: "Worker instance type",
    MANAGER_DISK_SIZE: "Manager Docker volume size (GiB)",
    WORKER_DISK_SIZE: "Worker Docker volume size (GiB)",
    MANAGER_DISK_TYPE: "Manager Docker volume type",
    WORKER_DISK_TYPE: "Worker Docker volume type",
    ENABLE_SYSTEM_PRUNE: "Prune unused Docker data daily?",
    ENABLE_CLOUDWATCH_LOGS: "Send container logs to CloudWatch?",
    LOG_RETENTION: "Log retention (days)",
    LOG_KMS_KEY_ARN: "KMS key for the log group (optional)",
    SSH_CIDR: "Network allowed to SSH in (empty: none)",
    AMI: "Image (SSM parameter)",
    ROOT_DEVICE_NAME: "Root device name of the image",
    AVAILABILITY_ZONES[0]: "First availability zone (empty: automatic)",
    AVAILABILITY_ZONES[1]: "Second availability zone",
    AVAILABILITY_ZONES[2]: "Third availability zone (empty: two zones)",
    VPC: "Existing VPC id (empty: create one)",
    SUBNETS: "Subnets of the existing VPC",
}

GROUPS = (
    ("Swarm Size", (MANAGER_SIZE, CLUSTER_SIZE)),
    (
        "Swarm Properties",
        (
            KEY_NAME,
            SSH_CIDR,
            AMI,
            ROOT_DEVICE_NAME,
            ENABLE_SYSTEM_PRUNE,
            ENABLE_CLOUDWATCH_LOGS,
            LOG_RETENTION,
            LOG_KMS_KEY_ARN,
        ),
    ),
    ("Swarm Manager Properties", (MANAGER_INSTANCE_TYPE, MANAGER_DISK_SIZE, MANAGER_DISK_TYPE)),
    ("Swarm Worker Properties", (INSTANCE_TYPE, WORKER_DISK_SIZE, WORKER_DISK_TYPE)),
    ("Network: new VPC", AVAILABILITY_ZONES),
    ("Network: existing VPC", (VPC, SUBNETS)),
)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _zone_default(spec: ClusterSpec, index: int) -> str:
    return spec.zones[index] if index < len(spec.zones) else ""


def parameter_specs(spec: ClusterSpec) -> dict[str, dict[str, Any]]:
    """Every parameter as CloudFormation properties, defaults taken from the spec."""
    yes_no = {"Type": "String", "AllowedValues": ["yes", "no"]}
    key_name: dict[str, Any] = {
        "Type": "AWS::EC2::KeyPair::KeyName",
        "Description": "Existing EC2 key pair; its public key is installed for the login user.",
        "ConstraintDescription": "must be the name of an existing EC2 key pair in this region",
    }
    if spec.key_name:
        key_name["Default"] = spec.key_name
    instance_type = {
        "Type": "String",
        "AllowedPattern": AWS_INSTANCE_TYPE.pattern,
        "ConstraintDescription": "must be an EC2 instance type like t3.medium or m7i.large",
    }
    disk_size = {"Type": "Number", "MinValue": DISK_MIN_GIB, "MaxValue": DISK_MAX_GIB}
    disk_type = {
        "Type": "String",
        "AllowedValues": list(AWS_DISK_TYPES),
        "Description": "EBS volume type of the Docker data volume (/var/lib/docker).",
    }
    return {
        KEY_NAME: key_name,
        MANAGER_SIZE: {
            "Type": "Number",
            "Default": str(spec.manager_size),
            "AllowedValues": [str(n) for n in MANAGER_SIZES],
            "Description": f"Swarm managers: {MANAGER_SIZES_PHRASE} (raft needs an odd count; "
            "3 survive one loss, 5 two, 7 three).",
            "ConstraintDescription": f"must be {MANAGER_SIZES_PHRASE}",
        },
        CLUSTER_SIZE: {
            "Type": "Number",
            "Default": str(spec.cluster_size),
            "MinValue": 0,
            "MaxValue": MAX_WORKERS,
            "Description": f"Swarm workers, 0 to {MAX_WORKERS}.",
            "ConstraintDescription": f"must be between 0 and {MAX_WORKERS}",
        },
        MANAGER_INSTANCE_TYPE: {
            **instance_type,
            "Default": spec.manager_instance_type or DEFAULT_INSTANCE_TYPE,
            "Description": "EC2 instance type of the managers (matching the image's architecture).",
        },
        INSTANCE_TYPE: {
            **instance_type,
            "Default": spec.instance_type or DEFAULT_INSTANCE_TYPE,
            "Description": "EC2 instance type of the workers (matching the image's architecture).",
        },
        MANAGER_DISK_SIZE: {
            **disk_size,
            "Default": str(spec.manager_disk_size),
            "Description": "Size of each manager's Docker data volume in GiB "
            f"({DISK_MIN_GIB}-{DISK_MAX_GIB}).",
            "ConstraintDescription": f"must be between {DISK_MIN_GIB} and {DISK_MAX_GIB} GiB",
        },
        WORKER_DISK_SIZE: {
            **disk_size,
            "Default": str(spec.worker_disk_size),
            "Description": "Size of each worker's Docker data volume in GiB "
            f"({DISK_MIN_GIB}-{DISK_MAX_GIB}).",
            "ConstraintDescription": f"must be between {DISK_MIN_GIB} and {DISK_MAX_GIB} GiB",
        },
        MANAGER_DISK_TYPE: {**disk_type, "Default": spec.manager_disk_type or DEFAULT_DISK_TYPE},
        WORKER_DISK_TYPE: {**disk_type, "Default": spec.worker_disk_type or DEFAULT_DISK_TYPE},
        ENABLE_SYSTEM_PRUNE: {
            **yes_no,
            "Default": _yes_no(spec.enable_system_prune),
            "Description": "yes: nodes run `docker system prune --force` daily "
            "(volumes are never pruned).",
        },
        ENABLE_CLOUDWATCH_LOGS: {
            **yes_no,
            "Default": _yes_no(spec.enable_cloudwatch_logs),
            "Description": "yes: a log group for the stack; container logs go to it.",
        },
        LOG_RETENTION: {
            "Type": "Number",
            "Default": str(spec.log_retention_days),
            "AllowedValues": [str(d) for d in LOG_RETENTION_DAYS],
            "Description": "Days CloudWatch keeps container logs.",
            "ConstraintDescription": "must be one of CloudWatch's retention periods",
        },
        LOG_KMS_KEY_ARN: {
            "Type": "String",
            "Default": "",
            "AllowedPattern": KMS_KEY_ARN_PATTERN,
            "Description": "ARN of a KMS key that encrypts the log group (its key policy must "
            "allow CloudWatch Logs); empty: CloudWatch's own encryption.",
            "ConstraintDescription": "must be empty or a KMS key ARN",
        },
        SSH_CIDR: {
            "Type": "String",
            "Default": spec.ssh_cidr or "",
            "AllowedPattern": rf"^$|{CIDR_PATTERN}",
            "Description": "IPv4 network allowed to reach the nodes on port 22, like "
            "203.0.113.0/24; empty: no SSH ingress at all.",
            "ConstraintDescription": "must be empty or an IPv4 CIDR like 203.0.113.0/24",
        },
        AMI: {
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": DEFAULT_AMI,
            "Description": "SSM parameter holding the image id (Debian 12 or Ubuntu 24.04; "
            "use the arm64 parameter with Graviton instance types).",
        },
        ROOT_DEVICE_NAME: {
            "Type": "String",
            "Default": ROOT_DEVICE_NAMES[0],
            "AllowedValues": list(ROOT_DEVICE_NAMES),
            "Description": "The image's root device, so the encrypted gp3 root volume replaces "
            "it: /dev/xvda for Debian, /dev/sda1 for Ubuntu.",
        },
        **{
            name: {
                "Type": "String",
                "Default": _zone_default(spec, index),
                "AllowedPattern": ZONE_PATTERN,
                "Description": description,
                "ConstraintDescription": "must be empty or a zone name like eu-west-1a",
            }
            for index, (name, description) in enumerate(
                zip(
                    AVAILABILITY_ZONES,
                    (
                        "Zone of the first subnet of a new VPC; empty: the region's first "
                        "three zones (two in us-west-1).",
                        "Zone of the second subnet (needed when the first is given).",
                        "Zone of the third subnet; empty with the others given: two subnets.",
                    ),
                    strict=True,
                )
            )
        },
        VPC: {
            "Type": "String",
            "Default": spec.existing_vpc_id or "",
            "AllowedPattern": VPC_ID_PATTERN,
            "Description": "Deploy into this existing VPC (then set Subnets); empty: create a VPC.",
            "ConstraintDescription": "must be empty or a VPC id like vpc-0123abcd",
        },
        SUBNETS: {
            "Type": "CommaDelimitedList",
            "Default": ",".join(spec.existing_subnet_ids),
            "Description": "Subnets of the existing VPC for nodes and load balancer, in "
            "different zones, comma separated; they need a route to the internet.",
        },
    }


def add_parameters(template: Template, spec: ClusterSpec) -> None:
    for name, properties in parameter_specs(spec).items():
        template.add_parameter(Parameter(name, **properties))
    template.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": label}, "Parameters": list(names)}
                    for label, names in GROUPS
                ],
                "ParameterLabels": {name: {"default": text} for name, text in LABELS.items()},
            }
        }
    )


def add_rules(template: Template) -> None:
    """Cross-parameter rules the console checks before it creates anything."""
    template.add_rule(
        "SecondZoneWithFirst",
        {
            "RuleCondition": {"Fn::Not": [{"Fn::Equals": [{"Ref": AVAILABILITY_ZONES[0]}, ""]}]},
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": AVAILABILITY_ZONES[1]}, ""]}]},
                    "AssertDescription": "Give at least two availability zones, or none.",
                }
            ],
        },
    )
    vpc_empty = {"Fn::Equals": [{"Ref": VPC}, ""]}
    subnets_empty = {"Fn::EachMemberEquals": [{"Ref": SUBNETS}, ""]}
    template.add_rule(
        "VpcAndSubnetsTogether",
        {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Or": [
                            {"Fn::And": [vpc_empty, subnets_empty]},
                            {"Fn::Not": [{"Fn::Or": [vpc_empty, subnets_empty]}]},
                        ]
                    },
                    "AssertDescription": "Set Vpc and Subnets together: both for an existing "
                    "VPC, neither for a new one.",
                }
            ],
        },
    )
