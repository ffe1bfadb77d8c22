"""The scale sets' custom data: cloud-init user data from the renderer (no secrets in it).

The one hook point for the cloud-init renderer; Azure never returns customData, so a digest
tag records which user data a scale set was built with.
"""

from __future__ import annotations

import hashlib

from ...cloudinit import user_data_base64
from ...errors import UsageError
from ...spec import Role
from .settings import AzureSettings

# Azure refuses customData longer than 64 KiB (base64 text).
CUSTOM_DATA_LIMIT = 65536


def custom_data(settings: AzureSettings, role: Role) -> str:
    encoded = user_data_base64(settings.spec, role, "azure")
    if len(encoded) > CUSTOM_DATA_LIMIT:
        raise UsageError(
            f"{role} custom data is {len(encoded)} bytes base64: over Azure's "
            f"{CUSTOM_DATA_LIMIT}-byte limit for customData"
        )
    return encoded


def digest(encoded: str) -> str:
    """A short digest of custom data: Azure never returns customData, so a tag carries it."""
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]
