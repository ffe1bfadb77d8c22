"""The launch templates' user data: cloud-init from swarmstack.cloudinit (no secrets in it).

User data is static per (spec, role): region and log group are read at boot from instance
metadata tags, so it can be gzip-compressed and never needs CloudFormation substitutions.
It is always compressed here: two plain copies would push the template over CloudFormation's
51,200-byte inline limit (cloud-init recognises gzip by its magic bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ...cloudinit import user_data_base64
from ...spec import ClusterSpec, Role


def user_data_for(spec: ClusterSpec) -> Callable[[Role], str]:
    """The user data hook `build_template` uses by default: base64 for `role` on EC2."""
    return partial(_aws_user_data, spec)


def _aws_user_data(spec: ClusterSpec, role: Role) -> str:
    return user_data_base64(spec, role, "aws", always_gzip=True)
