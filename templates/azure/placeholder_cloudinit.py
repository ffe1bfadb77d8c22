"""PLACEHOLDER for `swarmstack.cloudinit.user_data_base64` (issue 4/6, branch `cloudinit`).

Until the cloud-init renderer lands, scale sets get this minimal, valid cloud-config. At merge,
`customdata.py` imports the real function instead and this module is deleted.
"""

from __future__ import annotations

import base64

from ...spec import Cloud, ClusterSpec, Role


def user_data_base64(spec: ClusterSpec, role: Role, cloud: Cloud) -> str:
    """Base64 cloud-init user data for one role (same signature as the real renderer)."""
    text = f"#cloud-config\n# swarmstack {cloud} {role} of cluster {spec.name}\n"
    return base64.b64encode(text.encode()).decode()
