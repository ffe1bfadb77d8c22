"""Shared storage for service volumes: an encrypted EFS file system (what Cloudstor's EFS was).

With the spec's shared_storage, under the `EnableCloudStorEfs` parameter (Docker for AWS's
name, default yes): the file system, a mount target in every subnet of the stack, and a security
group that admits NFS only from the swarm nodes. Services mount it with docker's stock `local`
volume driver over NFS 4.1 (README, Persistent volumes); `swarmstack volume mount-string`
prints the option string from the stack outputs, so nodes need nothing at boot but the kernel's
NFS client (the user data adds nfs-common for admins who mount the share root by hand).

The file system is retained when the stack is deleted (DeletionPolicy Retain): the data of
stateful services outlives the cluster unless someone deletes it on purpose.
"""

from __future__ import annotations

from typing import Any

from troposphere import (
    And,
    Condition,
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Or,
    Output,
    Parameter,
    Ref,
    Select,
    Split,
    Sub,
    Template,
)
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress, SecurityGroupRule
from troposphere.efs import (
    BackupPolicy,
    FileSystem,
    LifecyclePolicy,
    MountTarget,
)

from ...spec import ClusterSpec
from . import parameters as p
from .conditions import NEW_VPC, THIRD_SUBNET
from .tags import stack_tags

ENABLE_CLOUDSTOR_EFS = "EnableCloudStorEfs"
EFS_ON = "CloudStorEfsOn"
FILE_SYSTEM = "CloudStorEfsFileSystem"
SECURITY_GROUP = "CloudStorEfsSecurityGroup"
NFS_PORT = 2049
# Output names `swarmstack volume mount-string` reads.
FILE_SYSTEM_ID_OUTPUT = "CloudStorEfsFileSystemId"
DNS_NAME_OUTPUT = "CloudStorEfsDnsName"
# A new VPC has up to three subnets; an existing VPC's first three get mount targets.
MAX_MOUNT_TARGETS = 3


def storage_problems(spec: ClusterSpec) -> list[str]:
    """Spec values the file system cannot serve, found before anything is built."""
    if spec.shared_storage and len(spec.existing_subnet_ids) > MAX_MOUNT_TARGETS:
        return [
            f"existing_subnet_ids={','.join(spec.existing_subnet_ids)}: with shared_storage at "
            f"most {MAX_MOUNT_TARGETS} subnets (one EFS mount target per subnet and zone; nodes "
            "in a zone without one could not reach the file system)"
        ]
    return []


def _existing_subnet(index: int) -> Any:
    """The index-th existing subnet, or "" when fewer are given (padding keeps Select valid)."""
    padded = Join(",", [Join(",", Ref(p.SUBNETS)), ",,"])
    return Select(index, Split(",", padded))


def add_storage(template: Template, spec: ClusterSpec, vpc_id: Any, node_group: Any) -> None:
    """Parameter, conditions and (under them) the file system, its network and outputs.

    Only a spec with shared_storage gets any of it: its user data carries the NFS client, and
    a template without storage stays exactly as it was. The parameter (default yes) still lets
    a console user switch the file system off at deploy time.
    """
    if not spec.shared_storage:
        return
    template.add_parameter(
        Parameter(
            ENABLE_CLOUDSTOR_EFS,
            Type="String",
            AllowedValues=["yes", "no"],
            Default="yes",
            Description="yes: an encrypted EFS file system for service volumes, mounted over "
            "NFS from the swarm nodes only (kept when the stack is deleted). An existing VPC's "
            f"first {MAX_MOUNT_TARGETS} subnets get mount targets.",
        )
    )
    interface = template.metadata["AWS::CloudFormation::Interface"]
    interface["ParameterGroups"].append(
        {"Label": {"default": "Persistent volumes"}, "Parameters": [ENABLE_CLOUDSTOR_EFS]}
    )
    interface["ParameterLabels"][ENABLE_CLOUDSTOR_EFS] = {
        "default": "Shared EFS storage for volumes?"
    }
    template.add_condition(EFS_ON, Equals(Ref(ENABLE_CLOUDSTOR_EFS), "yes"))

    group = template.add_resource(
        SecurityGroup(
            SECURITY_GROUP,
            Condition=EFS_ON,
            GroupDescription="EFS mount targets: NFS from the swarm nodes only",
            VpcId=vpc_id,
            # Replies to NFS clients are stateful; the mount targets start no connections.
            SecurityGroupEgress=[
                SecurityGroupRule(
                    IpProtocol="-1",
                    CidrIp="127.0.0.1/32",
                    Description="No outbound traffic: mount targets only answer NFS clients",
                )
            ],
            Tags=stack_tags(spec, "efs"),
        )
    )
    template.add_resource(
        SecurityGroupIngress(
            "CloudStorEfsIngressNfs",
            Condition=EFS_ON,
            GroupId=GetAtt(group, "GroupId"),
            SourceSecurityGroupId=GetAtt(node_group, "GroupId"),
            IpProtocol="tcp",
            FromPort=NFS_PORT,
            ToPort=NFS_PORT,
            Description="NFS from swarm nodes (service volumes on EFS)",
        )
    )
    file_system = template.add_resource(
        FileSystem(
            FILE_SYSTEM,
            Condition=EFS_ON,
            # Volumes hold the data of stateful services: deleting the stack must not erase it.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Encrypted=True,  # with the account's aws/elasticfilesystem KMS key
            PerformanceMode="generalPurpose",
            ThroughputMode="elastic",
            BackupPolicy=BackupPolicy(Status="ENABLED"),
            LifecyclePolicies=[
                LifecyclePolicy(TransitionToIA="AFTER_30_DAYS"),
                LifecyclePolicy(TransitionToPrimaryStorageClass="AFTER_1_ACCESS"),
            ],
            FileSystemTags=stack_tags(spec, "volumes"),
        )
    )
    _add_mount_targets(template, file_system, group)
    template.add_output(
        [
            Output(
                FILE_SYSTEM_ID_OUTPUT,
                Condition=EFS_ON,
                Description="EFS file system of the service volumes (retained on stack delete)",
                Value=Ref(file_system),
            ),
            Output(
                DNS_NAME_OUTPUT,
                Condition=EFS_ON,
                Description="NFS server name for volume-opt o=addr=... "
                "(see `swarmstack volume mount-string`)",
                Value=Sub(
                    "${FileSystem}.efs.${AWS::Region}.${AWS::URLSuffix}",
                    FileSystem=Ref(file_system),
                ),
            ),
        ]
    )


def _add_mount_targets(template: Template, file_system: Any, group: Any) -> None:
    """One mount target per subnet, whichever VPC: the new VPC's or the given ones."""
    for index in range(MAX_MOUNT_TARGETS):
        number = index + 1
        existing_given = f"CloudStorEfsExistingSubnet{number}"
        template.add_condition(
            existing_given,
            And(Not(Condition(NEW_VPC)), Not(Equals(_existing_subnet(index), ""))),
        )
        new_vpc_has = THIRD_SUBNET if index == 2 else NEW_VPC
        in_stack = f"CloudStorEfsMountTarget{number}On"
        template.add_condition(
            in_stack,
            And(Condition(EFS_ON), Or(Condition(new_vpc_has), Condition(existing_given))),
        )
        template.add_resource(
            MountTarget(
                f"CloudStorEfsMountTarget{number}",
                Condition=in_stack,
                FileSystemId=Ref(file_system),
                SubnetId=If(NEW_VPC, Ref(f"PublicSubnet{number}"), _existing_subnet(index)),
                SecurityGroups=[GetAtt(group, "GroupId")],
            )
        )
