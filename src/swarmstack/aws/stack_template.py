"""The one place that turns a spec into the CloudFormation template body to launch.

The template itself is built by swarmstack.templates.aws (pure troposphere builders); this
module only renders it to the text CloudFormation receives. Size is not checked here:
template_upload sends bodies over the inline limit through S3. Tests substitute `render_body`.
"""

from __future__ import annotations

from ..spec import ClusterSpec
from ..templates import aws as aws_templates


def render_body(spec: ClusterSpec) -> str:
    """The template for `spec` as JSON: indented when it fits inline, else minified."""
    return aws_templates.render_body(aws_templates.build_template(spec), "json").body
