"""A network load balancer for the published swarm ports, cross-zone on.

Its listeners and target groups are made by the node agent on the swarm's leader: one TCP
listener and target group per port - the spec's published ports (fixed: never removed) and
every port a service publishes through the routing mesh (removed when the service goes). So
the template's size does not grow with the ports (CloudFormation's 51,200-byte inline limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Template
from troposphere.elasticloadbalancingv2 import (
    LoadBalancer,
    LoadBalancerAttributes,
)

from ...spec import ClusterSpec
from .network import Network
from .suppressions import NLB_ACCESS_LOGS, checkov_skip
from .tags import stack_tags


@dataclass(frozen=True)
class LoadBalancing:
    load_balancer: Any
    target_groups: list[Any]


def add_load_balancer(
    template: Template,
    spec: ClusterSpec,
    network: Network,
    security_group: Any,
    depends_on_internet: str,
) -> LoadBalancing | None:
    if not spec.published_ports:
        return None
    load_balancer = template.add_resource(
        LoadBalancer(
            "LoadBalancer",
            Type="network",
            Scheme="internet-facing",
            Subnets=network.subnet_ids,
            SecurityGroups=[GetAtt(security_group, "GroupId")],
            LoadBalancerAttributes=[
                LoadBalancerAttributes(Key="load_balancing.cross_zone.enabled", Value="true")
            ],
            Tags=stack_tags(spec, "lb"),
            DependsOn=depends_on_internet,
            Metadata=checkov_skip(NLB_ACCESS_LOGS),
        )
    )
    return LoadBalancing(load_balancer=load_balancer, target_groups=[])
