"""Placeholder user data until the cloud-init renderer (swarmstack.cloudinit) lands.

The launch templates take user data through `build_template(..., user_data=...)`; this module
only supplies the default so the stack is complete and uploadable today. It returns a minimal,
valid ``#cloud-config`` document, base64-encoded as EC2 expects it in a launch template.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from ...spec import ClusterSpec, Role


def user_data_for(spec: ClusterSpec) -> Callable[[Role], str]:
    """The user data hook `build_template` uses by default and the CLI passes explicitly.

    Swap point: once swarmstack.cloudinit lands this returns
    ``lambda role: user_data_base64(spec, role, "aws")``.
    """
    del spec  # the placeholder is the same for every spec
    return placeholder_user_data_base64


def placeholder_user_data_base64(role: Role) -> str:
    """Base64 of a minimal cloud-config for `role` (no secrets; static per role)."""
    text = (
        "#cloud-config\n"
        f"# swarmstack {role} node: placeholder user data; the host tuning renderer replaces it.\n"
        "package_update: false\n"
    )
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
