"""The one place that turns a spec into the CloudFormation template body to launch.

The template itself is built by swarmstack.templates.aws (pure troposphere builders); this
module only renders it to the text CloudFormation receives. Tests substitute `render_body`.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import UsageError
from ..spec import ClusterSpec

TEMPLATE_BUILDER = "swarmstack.templates.aws"


def render_body(spec: ClusterSpec) -> str:
    """The template for `spec` as compact JSON (CloudFormation limits count bytes)."""
    builder = _builder()
    template = builder.build_template(spec)
    return str(builder.render_template(template, "json"))


def _builder() -> Any:
    # Imported by name until the template builder (issue 3) is merged; then a plain import.
    try:
        return importlib.import_module(TEMPLATE_BUILDER)
    except ModuleNotFoundError:
        raise UsageError(
            "the CloudFormation template builder is not in this build yet",
            hint="swarmstack.templates.aws arrives with the `aws template` command",
        ) from None
