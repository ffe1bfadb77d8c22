"""Template conditions: the deploy-time choices that parameters make.

Availability zones are never picked with ``Fn::Select`` on a computed index.
"""

from __future__ import annotations

from troposphere import And, Condition, Equals, Join, Not, Or, Ref, Template

from . import parameters as p

CLOUDWATCH_LOGS_ON = "CloudWatchLogsOn"
LOG_KMS_KEY_GIVEN = "LogKmsKeyGiven"
SSH_ALLOWED = "SshAllowed"
NEW_VPC = "NewVpc"
ZONES_GIVEN = "ZonesGiven"
THIRD_SUBNET = "ThirdSubnet"

# The one commercial region that offers new accounts only two availability zones; consulted only
# when no zones are given, because CloudFormation cannot count the zones of a region.
TWO_ZONE_REGION = "us-west-1"


def add_conditions(template: Template) -> None:
    template.add_condition(CLOUDWATCH_LOGS_ON, Equals(Ref(p.ENABLE_CLOUDWATCH_LOGS), "yes"))
    template.add_condition(LOG_KMS_KEY_GIVEN, Not(Equals(Ref(p.LOG_KMS_KEY_ARN), "")))
    template.add_condition(SSH_ALLOWED, Not(Equals(Ref(p.SSH_CIDR), "")))
    # A new VPC unless both the existing VPC and its subnets are given (a rule checks that
    # they come together); phrased so linters can tell the existing-VPC branch is non-empty.
    template.add_condition(
        NEW_VPC, Or(Equals(Ref(p.VPC), ""), Equals(Join("", Ref(p.SUBNETS)), ""))
    )
    template.add_condition(ZONES_GIVEN, Not(Equals(Ref(p.AVAILABILITY_ZONES[0]), "")))
    template.add_condition(
        THIRD_SUBNET,
        And(
            Condition(NEW_VPC),
            Or(
                And(
                    Condition(ZONES_GIVEN),
                    Not(Equals(Ref(p.AVAILABILITY_ZONES[2]), "")),
                ),
                And(
                    Not(Condition(ZONES_GIVEN)),
                    Not(Equals(Ref("AWS::Region"), TWO_ZONE_REGION)),
                ),
            ),
        ),
    )
