"""Which of a stack's instances told CloudFormation that their node is Ready in the swarm.

The node agent sends its group's resource signal (SignalResource, UniqueId = its instance id)
only once its node is Ready in the swarm, and the groups' creation and rolling-update policies
wait for those signals: CREATE_COMPLETE/UPDATE_COMPLETE therefore means every node the
operation waited for is Ready. CloudFormation records each signal as a stack event whose
reason is "Received SUCCESS signal with UniqueId i-...", so the CLI lists the swarm's nodes
from the instances and these events - no SSH, no new permission on the nodes, and no size
limit (a node table in an SSM parameter would stop at 8 KB, about a hundred nodes).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .error_translation import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

SUCCESS_SIGNAL = re.compile(r"Received SUCCESS signal with UniqueId (\S+)")


def signalled_instances(cfn: CloudFormationClient, stack_id: str) -> set[str]:
    """Instance ids that ever sent the stack a SUCCESS signal (its whole event history)."""
    found: set[str] = set()
    with aws_errors():
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
            for event in page["StackEvents"]:
                match = SUCCESS_SIGNAL.fullmatch(str(event.get("ResourceStatusReason") or ""))
                if match:
                    found.add(match.group(1))
    return found
