"""Launch templates and Auto Scaling groups for managers and workers.

IMDSv2 only with a hop limit of 1 (containers on docker networks cannot take the instance
role), instance tags readable through IMDS, an encrypted gp3 root volume and a separate
encrypted volume for /var/lib/docker. The user data is static per role; what differs per stack
(region, log group) is read at boot from IMDS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, If, NoValue, Ref, Template
from troposphere.autoscaling import AutoScalingGroup, LaunchTemplateSpecification
from troposphere.ec2 import (
    EBSBlockDevice,
    IamInstanceProfile,
    LaunchTemplate,
    LaunchTemplateBlockDeviceMapping,
    LaunchTemplateData,
    MetadataOptions,
    NetworkInterfaces,
    TagSpecifications,
)

from ...spec import MAX_WORKERS, ClusterSpec, Role
from . import parameters as p
from .conditions import NEW_VPC
from .iam import NodeIdentity
from .lifecycle import Lifecycle, termination_hook
from .network import Network
from .suppressions import NODE_PUBLIC_IPS, checkov_skip
from .tags import instance_tags, volume_tags

# The OS only: images, containers and volumes live on the Docker data volume.
ROOT_VOLUME_GIB = 16
# The Docker data volume; on Nitro instances it shows up as the second NVMe disk.
DOCKER_VOLUME_DEVICE = "/dev/sdf"
# dockerd runs on the host, so awslogs reaches IMDS at one hop. A container on a bridge or
# overlay network is one hop further: with a limit of 1 its IMDSv2 token reply never arrives,
# so it cannot take the node's instance role (a manager's queue and lifecycle rights) or
# read the user data. Containers on the host network are the host as far as IMDS can tell.
IMDS_HOP_LIMIT = 1


@dataclass(frozen=True)
class RoleSettings:
    """The parameters that size one role's machines."""

    instance_type: str
    disk_size: str
    disk_type: str


ROLE_SETTINGS: dict[Role, RoleSettings] = {
    "manager": RoleSettings(p.MANAGER_INSTANCE_TYPE, p.MANAGER_DISK_SIZE, p.MANAGER_DISK_TYPE),
    "worker": RoleSettings(p.INSTANCE_TYPE, p.WORKER_DISK_SIZE, p.WORKER_DISK_TYPE),
}


def _encrypted_volume(size: Any, volume_type: Any) -> EBSBlockDevice:
    return EBSBlockDevice(
        VolumeSize=size, VolumeType=volume_type, Encrypted=True, DeleteOnTermination=True
    )


def add_launch_template(
    template: Template,
    spec: ClusterSpec,
    role: Role,
    identity: NodeIdentity,
    security_groups: list[Any],
    user_data: Callable[[Role], Any],
) -> Any:
    settings = ROLE_SETTINGS[role]
    return template.add_resource(
        LaunchTemplate(
            f"{role.capitalize()}LaunchTemplate",
            Metadata=checkov_skip(
                NODE_PUBLIC_IPS,
                explained_on=None if role == "manager" else "ManagerLaunchTemplate",
            ),
            LaunchTemplateData=LaunchTemplateData(
                ImageId=Ref(p.AMI),
                InstanceType=Ref(settings.instance_type),
                KeyName=Ref(p.KEY_NAME),
                IamInstanceProfile=IamInstanceProfile(Arn=GetAtt(identity.profile, "Arn")),
                MetadataOptions=MetadataOptions(
                    HttpEndpoint="enabled",
                    HttpTokens="required",
                    HttpPutResponseHopLimit=IMDS_HOP_LIMIT,
                    InstanceMetadataTags="enabled",
                ),
                NetworkInterfaces=[
                    NetworkInterfaces(
                        DeviceIndex=0,
                        Groups=[GetAtt(group, "GroupId") for group in security_groups],
                        # Public subnets of a new VPC have no NAT; an existing VPC's subnets
                        # decide for themselves.
                        AssociatePublicIpAddress=If(NEW_VPC, True, NoValue),
                        DeleteOnTermination=True,
                    )
                ],
                BlockDeviceMappings=[
                    LaunchTemplateBlockDeviceMapping(
                        DeviceName=Ref(p.ROOT_DEVICE_NAME),
                        Ebs=_encrypted_volume(ROOT_VOLUME_GIB, "gp3"),
                    ),
                    LaunchTemplateBlockDeviceMapping(
                        DeviceName=DOCKER_VOLUME_DEVICE,
                        Ebs=_encrypted_volume(Ref(settings.disk_size), Ref(settings.disk_type)),
                    ),
                ],
                TagSpecifications=[
                    TagSpecifications(ResourceType="volume", Tags=volume_tags(role))
                ],
                UserData=user_data(role),
            ),
        )
    )


def add_group(
    template: Template,
    spec: ClusterSpec,
    role: Role,
    launch_template: Any,
    network: Network,
    lifecycle: Lifecycle,
    log_group: Any,
    target_groups: list[Any],
    depends_on_internet: str,
) -> Any:
    if role == "manager":
        # Exactly ManagerSize: the raft quorum depends on an odd, known count.
        sizes = {
            "MinSize": Ref(p.MANAGER_SIZE),
            "MaxSize": Ref(p.MANAGER_SIZE),
            "DesiredCapacity": Ref(p.MANAGER_SIZE),
        }
    else:
        sizes = {
            "MinSize": "0",
            "MaxSize": str(MAX_WORKERS),
            "DesiredCapacity": Ref(p.CLUSTER_SIZE),
        }
    extra = {"TargetGroupARNs": [Ref(group) for group in target_groups]} if target_groups else {}
    return template.add_resource(
        AutoScalingGroup(
            f"{role.capitalize()}AutoScalingGroup",
            LaunchTemplate=LaunchTemplateSpecification(
                LaunchTemplateId=Ref(launch_template),
                Version=GetAtt(launch_template, "LatestVersionNumber"),
            ),
            VPCZoneIdentifier=network.subnet_ids,
            LifecycleHookSpecificationList=[termination_hook(lifecycle)],
            Tags=instance_tags(spec, role, Ref(log_group) if log_group is not None else None),
            DependsOn=depends_on_internet,
            **sizes,
            **extra,
        )
    )
