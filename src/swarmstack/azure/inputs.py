"""Checks of the Azure commands' own inputs that need no SDK: resource group and location."""

from __future__ import annotations

import re

from ..errors import UsageError
from ..spec import AZURE_LOCATION, ClusterSpec

RESOURCE_GROUP = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")


def check_resource_group(group: str) -> None:
    if not RESOURCE_GROUP.fullmatch(group):
        raise UsageError(
            f"--resource-group={group}: must be 1-90 letters, digits, '-', '_', '.', '(' or ')' "
            "and not end with '.'"
        )


def location_of(spec: ClusterSpec, label: str = "--location") -> str:
    """The Azure location: the spec's `region`, spelt --location on the Azure commands.

    ``label`` names the value as the user gave it (--location, or the file's region).
    """
    if spec.region is None:
        raise UsageError("--location: required (or region in the spec file), like westeurope")
    if not AZURE_LOCATION.fullmatch(spec.region):
        raise UsageError(
            f"{label}={spec.region}: must be an Azure location like westeurope "
            "(this looks like an AWS region)"
        )
    return spec.region
