"""The network: a new VPC with public subnets in two or three zones, or an existing VPC.

Which one is decided at deploy time by the `Vpc` and `Subnets` parameters (condition NewVpc),
so one template serves both. The new VPC's address range is the spec's vpc_cidr, cut into
subnets at render time. Zones come from parameters; only when none are given does the template
fall back to the region's zones, always with literal indexes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from troposphere import GetAZs, If, Ref, Select, Template
from troposphere.cloudformation import WaitConditionHandle
from troposphere.ec2 import (
    VPC,
    InternetGateway,
    Route,
    RouteTable,
    Subnet,
    SubnetRouteTableAssociation,
    VPCGatewayAttachment,
)

from ...spec import ClusterSpec
from . import parameters as p
from .conditions import NEW_VPC, THIRD_SUBNET, ZONES_GIVEN
from .tags import stack_tags

# The new VPC is cut into four equal blocks; the first two or three become subnets.
SUBNET_BLOCKS = 4
MIN_VPC_PREFIX, MAX_VPC_PREFIX = 16, 24
DEFAULT_VPC_CIDR = "172.31.0.0/16"


@dataclass(frozen=True)
class Network:
    """Deploy-time expressions for the VPC id and the subnet ids, whichever VPC is used."""

    vpc_id: Any
    subnet_ids: Any
    # The title to put in DependsOn of whatever must not start before a new VPC's subnets
    # route to the internet.
    internet_ready: str


def network_problems(spec: ClusterSpec) -> list[str]:
    """Network settings CloudFormation would only reject halfway through creating the stack."""
    problems = []
    if spec.vpc_cidr:
        prefix = ipaddress.ip_network(spec.vpc_cidr).prefixlen
        if not MIN_VPC_PREFIX <= prefix <= MAX_VPC_PREFIX:
            problems.append(
                f"vpc_cidr={spec.vpc_cidr}: on AWS must be a /{MIN_VPC_PREFIX} to "
                f"/{MAX_VPC_PREFIX} network (VPC limits, room for {SUBNET_BLOCKS} subnets)"
            )
    if len(spec.zones) not in (0, 2, 3):
        problems.append(
            f"zones={','.join(spec.zones)}: on AWS must name two or three availability zones "
            "(or none to use the region's first ones)"
        )
    malformed = [z for z in spec.zones if not p.AWS_ZONE.fullmatch(z)]
    if malformed:
        problems.append(
            f"zones={','.join(spec.zones)}: on AWS must be zone names like eu-west-1a "
            f"({', '.join(malformed)} {'is' if len(malformed) == 1 else 'are'} not)"
        )
    foreign = [z for z in spec.zones if spec.region and not z.startswith(spec.region)]
    if foreign:
        problems.append(
            f"zones={','.join(spec.zones)}: must be zones of region {spec.region} "
            f"({', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not)"
        )
    return problems


def subnet_cidrs(spec: ClusterSpec) -> list[str]:
    """The new VPC's subnet blocks, computed here (not with Fn::Cidr, which moto lacks)."""
    vpc = ipaddress.ip_network(spec.vpc_cidr or DEFAULT_VPC_CIDR)
    blocks = vpc.subnets(prefixlen_diff=SUBNET_BLOCKS.bit_length() - 1)
    return [str(block) for block in blocks][:3]


def _zone(index: int) -> Any:
    return If(ZONES_GIVEN, Ref(p.AVAILABILITY_ZONES[index]), Select(index, GetAZs("")))


def add_network(template: Template, spec: ClusterSpec) -> Network:
    vpc = template.add_resource(
        VPC(
            "SwarmVpc",
            Condition=NEW_VPC,
            CidrBlock=spec.vpc_cidr or DEFAULT_VPC_CIDR,
            EnableDnsSupport=True,
            EnableDnsHostnames=True,
            Tags=stack_tags(spec, "vpc"),
        )
    )
    gateway = template.add_resource(
        InternetGateway("InternetGateway", Condition=NEW_VPC, Tags=stack_tags(spec, "igw"))
    )
    attachment = template.add_resource(
        VPCGatewayAttachment(
            "InternetGatewayAttachment",
            Condition=NEW_VPC,
            VpcId=Ref(vpc),
            InternetGatewayId=Ref(gateway),
        )
    )
    routes = template.add_resource(
        RouteTable(
            "PublicRouteTable", Condition=NEW_VPC, VpcId=Ref(vpc), Tags=stack_tags(spec, "public")
        )
    )
    default_route = template.add_resource(
        Route(
            "PublicDefaultRoute",
            Condition=NEW_VPC,
            DependsOn=attachment,
            RouteTableId=Ref(routes),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(gateway),
        )
    )
    subnets, associations = [], []
    for index, cidr in enumerate(subnet_cidrs(spec)):
        condition = THIRD_SUBNET if index == 2 else NEW_VPC
        subnet = template.add_resource(
            Subnet(
                f"PublicSubnet{index + 1}",
                Condition=condition,
                VpcId=Ref(vpc),
                CidrBlock=cidr,
                AvailabilityZone=_zone(index),
                Tags=stack_tags(spec, f"public-{index + 1}"),
            )
        )
        association = template.add_resource(
            SubnetRouteTableAssociation(
                f"PublicSubnet{index + 1}RouteTableAssociation",
                Condition=condition,
                SubnetId=Ref(subnet),
                RouteTableId=Ref(routes),
            )
        )
        subnets.append(subnet)
        associations.append(association)
    # Whole lists are chosen, never an AWS::NoValue item (moto keeps those as nulls).
    two, three = [Ref(s) for s in subnets[:2]], [Ref(s) for s in subnets]
    # A subnet not yet associated uses the VPC's main route table, which has no way out: an
    # instance started then could not install Docker. So the default route and every
    # association come first - referenced from Metadata, as DependsOn cannot be conditional,
    # by one handle (it creates nothing) that the groups and the load balancer depend on.
    first, second, third = (Ref(a) for a in associations)
    routed = [Ref(default_route), first, second, If(THIRD_SUBNET, third, "two subnets")]
    ready = template.add_resource(
        WaitConditionHandle(
            "InternetRoutes", Metadata={"routes": If(NEW_VPC, routed, "existing VPC")}
        )
    )
    return Network(
        vpc_id=If(NEW_VPC, Ref(vpc), Ref(p.VPC)),
        subnet_ids=If(NEW_VPC, If(THIRD_SUBNET, three, two), Ref(p.SUBNETS)),
        internet_ready=ready.title,
    )
