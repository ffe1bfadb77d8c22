"""User data as the clouds take it: base64, gzip-compressed when the raw text is too large."""

from __future__ import annotations

import base64
import gzip

from ..errors import UserDataTooLarge
from ..spec import Cloud, ClusterSpec, Role
from .hostkeys import HostKeys
from .render import render_user_data

# Bytes of user data before base64. EC2 takes 16 KB raw. Azure documents 65535 bytes of
# decoded customData, and some read the limit as 64 KiB of base64 text: staying under 48 KiB
# raw keeps even the base64 text within 64 KiB, so both readings hold.
# cloud-init recognises gzip by its magic bytes and decompresses it itself.
USER_DATA_LIMITS: dict[Cloud, int | None] = {
    "aws": 16 * 1024,
    "azure": 48 * 1024,
    "generic": None,
}


def encode_user_data(text: str, cloud: Cloud, *, always_gzip: bool = False) -> bytes:
    """The bytes to hand to the cloud: the text itself, or its gzip when over the limit.

    ``always_gzip`` compresses even small user data: a CloudFormation template carries two
    copies, and uncompressed they alone would push it over the 51,200-byte inline limit.
    """
    raw = text.encode("utf-8")
    limit = USER_DATA_LIMITS[cloud]
    if not always_gzip and (limit is None or len(raw) <= limit):
        return raw
    # mtime=0: the same user data gives the same bytes, so launch templates do not churn.
    compressed = gzip.compress(raw, compresslevel=9, mtime=0)
    if limit is not None and len(compressed) > limit:
        raise UserDataTooLarge(
            f"user data for {cloud} is {len(raw)} bytes ({len(compressed)} gzip-compressed), "
            f"over the {limit}-byte limit",
            hint="this is a swarmstack bug: please report it with the spec you used",
        )
    return compressed


def user_data_base64(
    spec: ClusterSpec,
    role: Role,
    cloud: Cloud,
    *,
    host_keys: HostKeys | None = None,
    always_gzip: bool = False,
) -> str:
    """Base64 user data for EC2 launch templates and Azure customData."""
    text = render_user_data(spec, role, cloud, host_keys=host_keys)
    encoded = encode_user_data(text, cloud, always_gzip=always_gzip)
    return base64.b64encode(encoded).decode("ascii")
