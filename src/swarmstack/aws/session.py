"""One AWS connection per command: a boto3 session from the standard credential chain.

`--profile` and `--region` pick the profile and region; `--endpoint-url` (or the standard
AWS_ENDPOINT_URL variable, which botocore reads itself) points every client at a compatible
endpoint such as a local moto server. Clients retry throttling with botocore's adaptive mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from ..errors import UsageError
from .error_translation import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_s3 import S3Client

# Adaptive mode adds client-side rate limiting on top of retries, which is what keeps a
# long poll loop polite when an account is shared with other automation.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=10,
    read_timeout=60,
    user_agent_extra="swarmstack",
)


@dataclass(frozen=True)
class AwsSettings:
    """How to reach AWS; None means "from the standard chain" (environment, config files)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


@dataclass
class AwsConnection:
    """A boto3 session plus cached clients; the only way swarmstack code reaches AWS."""

    settings: AwsSettings
    _session: boto3.Session = field(init=False, repr=False)
    _clients: dict[str, Any] = field(init=False, default_factory=dict, repr=False)
    _account_id: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        with aws_errors():
            self._session = boto3.Session(
                profile_name=self.settings.profile, region_name=self.settings.region
            )

    @property
    def region(self) -> str:
        """The region every client uses; a one-line error when none is configured."""
        region = self._session.region_name
        if not region:
            raise UsageError(
                "no AWS region: set --region, region: in the spec file, "
                "AWS_REGION or a region in your AWS profile"
            )
        return region

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service,  # type: ignore[call-overload]
                region_name=self.region,
                endpoint_url=self.settings.endpoint_url,
                config=RETRY_CONFIG,
            )
        return self._clients[service]

    def cloudformation(self) -> CloudFormationClient:
        client: CloudFormationClient = self._client("cloudformation")
        return client

    def autoscaling(self) -> AutoScalingClient:
        client: AutoScalingClient = self._client("autoscaling")
        return client

    def ec2(self) -> EC2Client:
        client: EC2Client = self._client("ec2")
        return client

    def s3(self) -> S3Client:
        client: S3Client = self._client("s3")
        return client

    def account_id(self) -> str:
        """The caller's account; also the first call of every command, so missing or
        expired credentials fail early with a clear message instead of mid-operation."""
        if self._account_id is None:
            with aws_errors():
                identity = self._client("sts").get_caller_identity()
            self._account_id = str(identity["Account"])
        return self._account_id
