"""An instance's console output, where cloud-init printed the host's SSH public keys at boot.

Only root on the instance writes its console and only the account reads it (GetConsoleOutput),
so the keys found there are the instance's own: the SSH hand-off pins them in known_hosts
before it connects (swarmstack.known_hosts). Nothing on the node, in its role or in the
template is needed for it; the caller needs ec2:GetConsoleOutput.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..known_hosts import host_keys_from_console
from .error_translation import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


def console_host_keys(ec2: EC2Client, instance_id: str) -> str | None:
    """The host key record the instance's console shows, or None (not printed yet)."""
    with aws_errors():
        try:
            # The latest output (Nitro instances); else the buffered one, posted after boot.
            answer = ec2.get_console_output(InstanceId=instance_id, Latest=True)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "UnsupportedOperation":
                raise
            answer = ec2.get_console_output(InstanceId=instance_id)
    # botocore has decoded the base64 AWS sends (its GetConsoleOutput handler).
    return host_keys_from_console(answer.get("Output") or "")
