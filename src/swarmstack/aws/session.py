"""One AWS connection per command: a boto3 session from the standard credential chain.

`--profile` and `--region` pick the profile and region; `--endpoint-url` (or the standard
AWS_ENDPOINT_URL variable, which botocore reads itself) points every client at a compatible
endpoint such as a local moto server. Clients retry throttling with botocore's adaptive mode;
a loopback or private endpoint gets a short connect timeout and one retry instead. The endpoint
URL and the region's shape are checked before any call, so a typo is a one-line usage error
rather than a traceback or half a minute of retries.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from ..errors import UsageError, as_written
from ..spec import AWS_REGION, AZURE_LOCATION
from .error_translation import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_efs import EFSClient
    from mypy_boto3_s3 import S3Client

# Adaptive mode adds client-side rate limiting on top of retries, which is what keeps a
# long poll loop polite when an account is shared with other automation.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=10,
    read_timeout=60,
    user_agent_extra="swarmstack",
)
# A loopback or private endpoint (moto, a local proxy) answers at once or not at all:
# failing within seconds beats ten adaptive retries against a closed port.
NEARBY_ENDPOINT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=2,
    read_timeout=60,
    user_agent_extra="swarmstack",
)
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
REGION_VARIABLE = "AWS_DEFAULT_REGION"  # the one botocore reads


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

    _config: Config = field(init=False, default=RETRY_CONFIG, repr=False)

    def __post_init__(self) -> None:
        endpoint = checked_endpoint(self.settings.endpoint_url, os.environ)
        if endpoint is not None and is_nearby(endpoint):
            self._config = NEARBY_ENDPOINT_CONFIG
        with aws_errors():
            self._session = boto3.Session(
                profile_name=self.settings.profile, region_name=self.settings.region
            )

    @property
    def region(self) -> str:
        """The region every client uses; a one-line error when none is configured or when it
        is not an AWS region (an Azure location would only fail after retries)."""
        region = self._session.region_name
        if not region:
            raise UsageError(
                "no AWS region: set --region, region: in the spec file, "
                f"{REGION_VARIABLE} or a region in your AWS profile"
            )
        if not AWS_REGION.fullmatch(region):
            raise UsageError(region_problem(region, self._region_source(region)))
        return region

    def _region_source(self, region: str) -> str:
        if self.settings.region:
            return "region"  # the spec's region: --region, SWARMSTACK_REGION or the file
        if os.environ.get(REGION_VARIABLE) == region:
            return REGION_VARIABLE
        return f"the region of AWS profile {self._session.profile_name}"

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                self._clients[service] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self.settings.endpoint_url,
                    config=self._config,
                )
            except ValueError as exc:  # botocore: "Invalid endpoint: ..." (e.g. a per-service
                # AWS_ENDPOINT_URL_<SERVICE> variable, which is not checked up front)
                raise UsageError(f"AWS endpoint for {service}: {exc}") from None
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

    def efs(self) -> EFSClient:
        client: EFSClient = self._client("efs")
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


def checked_endpoint(flag: str | None, environ: Mapping[str, str]) -> str | None:
    """The custom endpoint (--endpoint-url, else AWS_ENDPOINT_URL), or a one-line error
    naming where a malformed one came from; botocore would raise a bare ValueError."""
    label, url = (
        ("--endpoint-url", flag) if flag else (ENDPOINT_VARIABLE, environ.get(ENDPOINT_VARIABLE))
    )
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or not url.isprintable()
        or any(ch.isspace() for ch in url)
    ):
        raise UsageError(
            f"{label}={as_written(url)}: must be an http(s) URL like http://127.0.0.1:5000"
        )
    return url


def is_nearby(url: str) -> bool:
    """A loopback or private address (or localhost): no reason to wait long for it."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def region_problem(region: str, source: str) -> str:
    """The one line for a region AWS does not have the shape of."""
    azure = AZURE_LOCATION.fullmatch(region) and "-" not in region
    why = f" ({as_written(region)} looks like an Azure location)" if azure else ""
    return f"{source}={as_written(region)}: on AWS must be a region like eu-west-1{why}"
