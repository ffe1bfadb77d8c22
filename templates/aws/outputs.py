"""Stack outputs: what people and `swarmstack aws` commands need after the stack is up."""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, If, Output, Ref, Sub, Template

from ...contract import ROLE_TAG
from .conditions import CLOUDWATCH_LOGS_ON, SSH_ALLOWED


def add_outputs(
    template: Template,
    *,
    vpc_id: Any,
    manager_group: Any,
    worker_group: Any,
    security_groups: dict[str, tuple[Any, str]],
    load_balancer: Any | None,
    log_group: Any,
    lifecycle_queue: Any,
) -> None:
    template.add_output(
        [
            Output("VpcId", Description="VPC of the swarm", Value=vpc_id),
            Output(
                "ManagerAutoScalingGroup",
                Description="Auto Scaling group of the managers",
                Value=Ref(manager_group),
            ),
            Output(
                "WorkerAutoScalingGroup",
                Description="Auto Scaling group of the workers",
                Value=Ref(worker_group),
            ),
            Output(
                "Managers",
                Description="The managers in the EC2 console",
                Value=Sub(
                    "https://${AWS::Region}.console.aws.amazon.com/ec2/home?region="
                    "${AWS::Region}#Instances:tag:aws:autoscaling:groupName=${Group};"
                    "instanceState=running",
                    Group=Ref(manager_group),
                ),
            ),
            Output(
                "LifecycleQueueUrl",
                Description="SQS queue receiving termination notices of both groups",
                Value=Ref(lifecycle_queue),
            ),
            Output(
                "SshHint",
                Description="How to reach the nodes over SSH",
                Value=If(
                    SSH_ALLOWED,
                    Sub(
                        "ssh -i <your ${KeyName} key> admin@<public IP of an instance tagged "
                        f"{ROLE_TAG}=manager> (from ${{SshCidr}}; user ubuntu on Ubuntu images)"
                    ),
                    "SSH is closed: update the stack with SshCidr set to your network "
                    "to open port 22 to it",
                ),
            ),
        ]
    )
    for title, (group, description) in security_groups.items():
        template.add_output(
            Output(
                f"{title}SecurityGroupId", Description=description, Value=GetAtt(group, "GroupId")
            )
        )
    if load_balancer is not None:
        template.add_output(
            [
                Output(
                    "DefaultDNSTarget",
                    Description="DNS name of the load balancer for published ports; "
                    "point your records at it",
                    Value=GetAtt(load_balancer, "DNSName"),
                ),
                Output(
                    "ELBDNSZoneID",
                    Description="Hosted zone id of the load balancer (for alias records)",
                    Value=GetAtt(load_balancer, "CanonicalHostedZoneID"),
                ),
            ]
        )
    if log_group is not None:
        template.add_output(
            Output(
                "LogGroupName",
                Condition=CLOUDWATCH_LOGS_ON,
                Description="CloudWatch log group of the containers",
                Value=Ref(log_group),
            )
        )
