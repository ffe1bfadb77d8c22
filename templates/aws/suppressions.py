"""Every static-check finding we accept, with the reason, as in-template metadata.

checkov reads ``Metadata.checkov.skip`` on the resource; README's security section lists the
same entries. Keep this the only place a suppression is written.
"""

from __future__ import annotations

from typing import Any

NLB_ACCESS_LOGS = (
    "CKV_AWS_91",
    "Network load balancer access logs record only TLS listeners; every listener here is "
    "plain TCP (TLS ends in the swarm services), so there would be nothing to log.",
)
PUBLISHED_PORTS_OPEN = (
    "CKV_AWS_260",
    "The load balancer exists to publish the spec's service ports (80 by default) to clients; "
    "only its own group is open, and nodes accept these ports only from this group.",
)

ALL = (NLB_ACCESS_LOGS, PUBLISHED_PORTS_OPEN)


def checkov_skip(*findings: tuple[str, str]) -> dict[str, Any]:
    """Resource metadata that suppresses `findings` in checkov, each with its justification."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in findings]}}
