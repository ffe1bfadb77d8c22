"""The AWS CloudFormation stack: pure builders from a ClusterSpec to a troposphere Template.

    template = build_template(spec, user_data=lambda role: user_data_base64(spec, role, "aws"))
    body = render_template(template, "json")      # raises TemplateTooLarge over 51,200 bytes
    rendered = render_body(template, "json")      # never raises; .fits_inline, .minified

One module per concern: parameters (and console metadata), conditions, network, security
groups, iam, lifecycle (hooks and queue), compute (launch templates, groups), load balancer,
logs, outputs.
"""

from __future__ import annotations

from .builder import build_template
from .render import (
    INLINE_LIMIT_BYTES,
    S3_LIMIT_BYTES,
    RenderedTemplate,
    TemplateFormat,
    render_body,
    render_template,
)
from .userdata import user_data_for

__all__ = [
    "INLINE_LIMIT_BYTES",
    "S3_LIMIT_BYTES",
    "RenderedTemplate",
    "TemplateFormat",
    "build_template",
    "render_body",
    "render_template",
    "user_data_for",
]
