"""A network load balancer for the published swarm ports: one TCP listener and target group
per port, the workers as targets, health checks on the port itself, cross-zone on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Template
from troposphere.elasticloadbalancingv2 import (
    Action,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    TargetGroup,
    TargetGroupAttribute,
)

from ...spec import ClusterSpec
from .network import Network
from .suppressions import NLB_ACCESS_LOGS, checkov_skip
from .tags import stack_tags

HEALTH_CHECK_INTERVAL_SECONDS = 10
HEALTHY_THRESHOLD = 3
DEREGISTRATION_DELAY_SECONDS = 30


@dataclass(frozen=True)
class LoadBalancing:
    load_balancer: Any
    target_groups: list[Any]


def add_load_balancer(
    template: Template,
    spec: ClusterSpec,
    network: Network,
    security_group: Any,
    depends_on_internet: Any,
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
            Metadata={
                "swarmstack": {"internet-route": depends_on_internet},
                **checkov_skip(NLB_ACCESS_LOGS),
            },
        )
    )
    target_groups = []
    for port in spec.published_ports:
        target_group = template.add_resource(
            TargetGroup(
                f"TargetGroup{port}",
                VpcId=network.vpc_id,
                Port=port,
                Protocol="TCP",
                TargetType="instance",
                HealthCheckEnabled=True,
                HealthCheckProtocol="TCP",
                HealthCheckPort="traffic-port",
                HealthCheckIntervalSeconds=HEALTH_CHECK_INTERVAL_SECONDS,
                HealthyThresholdCount=HEALTHY_THRESHOLD,
                UnhealthyThresholdCount=HEALTHY_THRESHOLD,
                TargetGroupAttributes=[
                    TargetGroupAttribute(
                        Key="deregistration_delay.timeout_seconds",
                        Value=str(DEREGISTRATION_DELAY_SECONDS),
                    )
                ],
                Tags=stack_tags(spec, f"port-{port}"),
            )
        )
        template.add_resource(
            Listener(
                f"Listener{port}",
                LoadBalancerArn=Ref(load_balancer),
                Port=port,
                Protocol="TCP",
                DefaultActions=[Action(Type="forward", TargetGroupArn=Ref(target_group))],
            )
        )
        target_groups.append(target_group)
    return LoadBalancing(load_balancer=load_balancer, target_groups=target_groups)
