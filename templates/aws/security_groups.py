"""Security groups: swarm ports only between swarm nodes, the management port only on the
managers, SSH only from SshCidr, published ports only from the load balancer to the nodes.
Workers need nothing beyond the nodes' group, so they have no group of their own.

Rules that refer to a group (including its own) are separate ingress resources, which keeps
the groups free of reference cycles. Ports are integers and every rule says why it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Template
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress, SecurityGroupRule

from ...contract import GOSSIP_PORT, SWARM_PORT
from ...spec import ClusterSpec
from . import parameters as p
from .conditions import SSH_ALLOWED
from .network import Network
from .suppressions import (
    ESP_PORTS_IGNORED,
    cfn_lint_skip,
)
from .tags import stack_tags

ESP_PROTOCOL = "50"
ALL_PORTS = -1
SSH_PORT = 22


@dataclass(frozen=True)
class SecurityGroups:
    node: Any
    manager: Any
    load_balancer: Any | None


def _all_outbound(why: str) -> list[SecurityGroupRule]:
    return [SecurityGroupRule(IpProtocol="-1", CidrIp="0.0.0.0/0", Description=why)]


def _between_nodes(
    template: Template,
    title: str,
    target: Any,
    source: Any,
    protocol: str,
    port: int,
    why: str,
    **extra: Any,
) -> None:
    template.add_resource(
        SecurityGroupIngress(
            title,
            GroupId=GetAtt(target, "GroupId"),
            SourceSecurityGroupId=GetAtt(source, "GroupId"),
            IpProtocol=protocol,
            FromPort=port,
            ToPort=extra.pop("ToPort", port),
            Description=why,
            **extra,
        )
    )


def add_security_groups(template: Template, spec: ClusterSpec, network: Network) -> SecurityGroups:
    node = template.add_resource(
        SecurityGroup(
            "NodeSecurityGroup",
            GroupDescription="Swarm nodes: swarm traffic between nodes, SSH from SshCidr",
            VpcId=network.vpc_id,
            SecurityGroupEgress=_all_outbound(
                "Outbound: image pulls, packages, AWS APIs and what services need"
            ),
            Tags=stack_tags(spec, "node"),
        )
    )
    manager = template.add_resource(
        SecurityGroup(
            "ManagerSecurityGroup",
            GroupDescription="Swarm managers: the swarm management port from swarm nodes",
            VpcId=network.vpc_id,
            SecurityGroupEgress=_all_outbound("Outbound, as for every node"),
            Tags=stack_tags(spec, "manager"),
        )
    )
    _between_nodes(
        template,
        "ManagerIngressSwarmManagement",
        manager,
        node,
        "tcp",
        SWARM_PORT,
        "Swarm management API (raft, joins) from swarm nodes",
    )
    _between_nodes(
        template,
        "NodeIngressGossipTcp",
        node,
        node,
        "tcp",
        GOSSIP_PORT,
        "Swarm node discovery (gossip, tcp) between nodes",
    )
    _between_nodes(
        template,
        "NodeIngressGossipUdp",
        node,
        node,
        "udp",
        GOSSIP_PORT,
        "Swarm node discovery (gossip, udp) between nodes",
    )
    _between_nodes(
        template,
        "NodeIngressOverlay",
        node,
        node,
        "udp",
        spec.data_path_port,
        "Overlay network data path (VXLAN) between nodes",
    )
    _between_nodes(
        template,
        "NodeIngressEsp",
        node,
        node,
        ESP_PROTOCOL,
        ALL_PORTS,
        "Encrypted overlay networks (IPsec ESP) between nodes",
        Metadata=cfn_lint_skip(ESP_PORTS_IGNORED),
    )
    template.add_resource(
        SecurityGroupIngress(
            "NodeIngressSsh",
            Condition=SSH_ALLOWED,
            GroupId=GetAtt(node, "GroupId"),
            CidrIp=Ref(p.SSH_CIDR),
            IpProtocol="tcp",
            FromPort=SSH_PORT,
            ToPort=SSH_PORT,
            Description="SSH from SshCidr only (the swarm bootstrap and admins)",
        )
    )
    load_balancer = None
    if spec.published_ports:
        load_balancer = template.add_resource(
            SecurityGroup(
                "LoadBalancerSecurityGroup",
                GroupDescription="Load balancer: published swarm ports from anywhere to nodes",
                VpcId=network.vpc_id,
                # The ingress rules (one per published port, from anywhere) are added and
                # removed by the node agent together with the port's listener.
                # One rule for every published port, fixed or following a service: the
                # load balancer reaches the nodes only on the ports it has listeners for.
                SecurityGroupEgress=[
                    SecurityGroupRule(
                        IpProtocol="tcp",
                        FromPort=1,
                        ToPort=65535,
                        DestinationSecurityGroupId=GetAtt(node, "GroupId"),
                        Description="Published service ports and their health checks to nodes",
                    )
                ],
                Tags=stack_tags(spec, "load-balancer"),
            )
        )
        # Any node serves a published port (the routing mesh): workers, or the managers when
        # there are no workers.
        _between_nodes(
            template,
            "NodeIngressPublished",
            node,
            load_balancer,
            "tcp",
            1,
            "Published service ports and their health checks from the load balancer",
            ToPort=65535,
        )
    return SecurityGroups(node=node, manager=manager, load_balancer=load_balancer)
