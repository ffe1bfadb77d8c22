"""Render a Template as JSON or YAML, within CloudFormation's size limits.

CloudFormation takes at most 51,200 bytes inline (TemplateBody) and 1 MB through S3
(TemplateURL). Indented JSON is the readable default; when it is over the inline limit the
minified form is used; when even that is over, the template can only go through S3. YAML
is written in short form (yaml_form.py) and has no minified form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from troposphere import Template

from ...errors import TemplateTooLarge
from .yaml_form import to_yaml

TemplateFormat = Literal["json", "yaml"]
INLINE_LIMIT_BYTES = 51_200
S3_LIMIT_BYTES = 1_000_000
# One space per level, troposphere's own default: readable and the smallest indented form.
# Templates still over the inline limit indented (the default stack is) go out minified.
JSON_INDENT = 1


@dataclass(frozen=True)
class RenderedTemplate:
    """A rendered template body and how it relates to the size limits."""

    body: str
    format: TemplateFormat
    minified: bool
    indented_size: int

    @property
    def size(self) -> int:
        return len(self.body.encode("utf-8"))

    @property
    def fits_inline(self) -> bool:
        """True when CloudFormation accepts the body inline (TemplateBody)."""
        return self.size <= INLINE_LIMIT_BYTES

    @property
    def fits_s3(self) -> bool:
        """True when CloudFormation accepts the body through S3 (TemplateURL)."""
        return self.size <= S3_LIMIT_BYTES


def _to_dict(template: Template) -> dict[str, Any]:
    return dict(template.to_dict())


def render_body(template: Template, fmt: TemplateFormat = "json") -> RenderedTemplate:
    """The smallest readable body: indented, or minified JSON when indented is over the inline
    limit. Never raises for size - for callers that upload big templates to S3.
    """
    data = _to_dict(template)
    if fmt == "yaml":
        body = to_yaml(data)
        return RenderedTemplate(body, "yaml", minified=False, indented_size=len(body.encode()))
    indented = json.dumps(data, indent=JSON_INDENT, sort_keys=True) + "\n"
    indented_size = len(indented.encode("utf-8"))
    if indented_size <= INLINE_LIMIT_BYTES:
        return RenderedTemplate(indented, "json", minified=False, indented_size=indented_size)
    minified = json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n"
    return RenderedTemplate(minified, "json", minified=True, indented_size=indented_size)


def render_template(template: Template, fmt: TemplateFormat = "json") -> str:
    """The body for inline use; TemplateTooLarge when it can only go through S3."""
    rendered = render_body(template, fmt)
    if not rendered.fits_inline:
        raise too_large(rendered)
    return rendered.body


def too_large(rendered: RenderedTemplate) -> TemplateTooLarge:
    what = "minified JSON" if rendered.format == "json" else "YAML"
    return TemplateTooLarge(
        f"template is {rendered.size:,} bytes as {what}, over CloudFormation's "
        f"{INLINE_LIMIT_BYTES:,}-byte inline limit: it must be uploaded to S3 and used "
        "through TemplateURL",
        hint="`swarmstack aws launch-stack` uploads it to S3 for you; the console's "
        '"Upload a template file" also stores it in S3 (`aws template --for-s3` writes it)'
        + ("; -o json may also fit inline" if rendered.format == "yaml" else ""),
    )
