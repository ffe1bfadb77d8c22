"""Which Azure cloud, which subscription, and which credential.

Production uses DefaultAzureCredential (environment, workload identity, managed identity, Azure
CLI, ...). Custom clouds (sovereign clouds, Azure Stack Hub) set --arm-endpoint and the standard
AZURE_AUTHORITY_HOST; for an authority Microsoft does not know, instance discovery is off. CA
bundles come from the standard REQUESTS_CA_BUNDLE, which the SDK's transport honours.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..errors import AzureCredentialsError, UsageError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

PUBLIC_ARM_ENDPOINT = "https://management.azure.com"
# Authorities Microsoft's instance discovery knows; any other host is a custom cloud.
KNOWN_AUTHORITIES = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)
SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class AzureCloud:
    """The Resource Manager endpoint and the sign-in authority (None = the SDK's default)."""

    arm_endpoint: str = PUBLIC_ARM_ENDPOINT
    authority_host: str | None = None

    @property
    def scopes(self) -> list[str]:
        return [self.arm_endpoint.rstrip("/") + "/.default"]

    @property
    def custom_authority(self) -> bool:
        if self.authority_host is None:
            return False
        return urlparse(self.authority_host).hostname not in KNOWN_AUTHORITIES


def cloud_from(arm_endpoint: str | None, environ: Mapping[str, str]) -> AzureCloud:
    endpoint = (arm_endpoint or PUBLIC_ARM_ENDPOINT).rstrip("/")
    parsed = urlparse(endpoint)
    if parsed.scheme != "https" or not parsed.hostname:
        raise UsageError(
            f"--arm-endpoint={arm_endpoint}: must be an https:// URL like {PUBLIC_ARM_ENDPOINT}"
        )
    authority = environ.get("AZURE_AUTHORITY_HOST") or None
    return AzureCloud(endpoint, authority)


def subscription_from(flag: str | None, environ: Mapping[str, str]) -> str:
    """The subscription: --subscription, else AZURE_SUBSCRIPTION_ID; one-line error if neither."""
    value = flag or environ.get("AZURE_SUBSCRIPTION_ID")
    if not value:
        raise AzureCredentialsError(
            "no Azure subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID",
            hint="`az account list -o table` shows the subscriptions you can use",
        )
    if not SUBSCRIPTION_ID.fullmatch(value):
        source = "--subscription" if flag else "AZURE_SUBSCRIPTION_ID"
        raise UsageError(f"{source}={value}: must be a subscription id (a GUID)")
    return value


def default_credential(cloud: AzureCloud) -> TokenCredential:
    """DefaultAzureCredential for the cloud. Never used by tests: it probes a metadata address."""
    from azure.identity import DefaultAzureCredential

    if cloud.authority_host is None:
        return DefaultAzureCredential()
    return DefaultAzureCredential(
        authority=cloud.authority_host,
        disable_instance_discovery=cloud.custom_authority,
    )


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Remove any client secret or certificate password from text meant for people."""
    environ = os.environ if environ is None else environ
    for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_PASSWORD"):
        secret = environ.get(name)
        if secret:
            text = text.replace(secret, "***")
    return text
