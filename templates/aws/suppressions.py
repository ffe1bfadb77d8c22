"""Every static-check finding we accept, with the reason, as in-template metadata.

checkov reads ``Metadata.checkov.skip`` on the resource, cfn-lint ``Metadata.cfn-lint``
(which has no place for a reason, so it goes next to it under ``Comment``). README's security
section lists the same entries. Keep this the only place a suppression is written.
"""

from __future__ import annotations

from typing import Any

NLB_ACCESS_LOGS = (
    "CKV_AWS_91",
    "Network load balancer access logs record only TLS listeners; every listener here is "
    "plain TCP (TLS ends in the swarm services), so there would be nothing to log.",
)
# The two below pass in checkov only because the value is an Fn::If it cannot evaluate; they
# are suppressed anyway so that what the default stack really does is written down.
NODE_PUBLIC_IPS = (
    "CKV_AWS_88",
    "In a new VPC the nodes sit in public subnets and get public IPs for outbound traffic "
    "(no NAT gateway to pay for); inbound is closed by the security groups: swarm ports only "
    "between nodes, published ports only from the load balancer, SSH only from SshCidr. In an "
    "existing VPC the subnets decide.",
)
LOG_GROUP_KMS_OPTIONAL = (
    "CKV_AWS_158",
    "CloudWatch Logs encrypts every log group at rest; a customer-managed key is optional "
    "(LogKmsKeyArn) because its key policy must first allow the CloudWatch Logs service of "
    "the region, which the template cannot grant on a key it does not own.",
)
ESP_PORTS_IGNORED = (
    "W3687",
    "ESP has no ports and EC2 ignores them for it; -1 (all) is stated because some "
    "CloudFormation implementations, such as moto used in our tests, require port fields.",
)

CHECKOV = (NLB_ACCESS_LOGS, NODE_PUBLIC_IPS, LOG_GROUP_KMS_OPTIONAL)
CFN_LINT = (ESP_PORTS_IGNORED,)


def checkov_skip(*findings: tuple[str, str], explained_on: str | None = None) -> dict[str, Any]:
    """Resource metadata that suppresses `findings` in checkov, each with its justification,
    or - for the same suppression on a second resource - a pointer to the resource
    ``explained_on`` that has it written out: each reason is in the template once."""
    return {
        "checkov": {
            "skip": [
                {"id": check, "comment": see(explained_on) if explained_on else why}
                for check, why in findings
            ]
        }
    }


def see(title: str) -> str:
    return f"The same as on {title}, where the reason is written out."


def cfn_lint_skip(*findings: tuple[str, str]) -> dict[str, Any]:
    """Resource metadata that suppresses `findings` in cfn-lint, with the reasons beside it."""
    return {
        "cfn-lint": {"config": {"ignore_checks": [rule for rule, _ in findings]}},
        "Comment": " ".join(f"{rule}: {why}" for rule, why in findings),
    }
