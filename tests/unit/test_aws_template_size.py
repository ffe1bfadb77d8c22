"""The template's size: it must not grow with the spec's tags and published ports, and its
JSON form fits CloudFormation's inline limit (51,200 bytes, `--template-body`).

User tags are stack tags (CloudFormation copies them onto every resource), listeners and
target groups of published ports are made by the node agent, and both roles share one user
data: so a spec with 10 tags and 10 published ports renders as large as the default one. The
sizes are printed (pytest -s) for the record.
"""

from __future__ import annotations

from swarmstack.templates.aws import INLINE_LIMIT_BYTES, build_template, render_body

from .aws_variants import spec_of

TEN_TAGS = {f"tag-{i}": f"value-{i}-" + "x" * 40 for i in range(10)}
TEN_PORTS = [80, 443, *range(8000, 8008)]
# A handful of bytes per port remains: each is listed in the agent's settings (user data).
GROWTH_ALLOWED = 256
# Kept free under the inline limit for what the stack may still need (e.g. a permission).
# It was 800 until the nodes waited for the new VPC's routes (InternetRoutes), ~100 bytes.
MARGIN = 600


def _sizes(**values: object) -> tuple[int, int]:
    template = build_template(spec_of(**values))
    return render_body(template, "json").size, render_body(template, "yaml").size


def test_size_does_not_grow_with_tags_and_published_ports() -> None:
    default_json, default_yaml = _sizes()
    largest_json, largest_yaml = _sizes(tags=TEN_TAGS, published_ports=TEN_PORTS)
    print(  # the figure this test exists to report
        f"\nAWS template, default spec: {default_json:,} bytes JSON, {default_yaml:,} YAML; "
        f"10 tags + 10 published ports: {largest_json:,} bytes JSON, {largest_yaml:,} YAML "
        f"(inline limit {INLINE_LIMIT_BYTES:,})"
    )
    assert largest_json <= default_json + GROWTH_ALLOWED
    assert largest_yaml <= default_yaml + GROWTH_ALLOWED


def test_the_largest_json_template_fits_inline() -> None:
    """Up to 10 tags and 10 published ports, the JSON template goes as --template-body, with
    room to spare for what the stack may still need."""
    largest_json, _ = _sizes(tags=TEN_TAGS, published_ports=TEN_PORTS)
    print(  # the figure this test exists to report
        f"\nAWS template, 10 tags + 10 published ports: {largest_json:,} bytes JSON, "
        f"{INLINE_LIMIT_BYTES - largest_json:,} under the inline limit"
    )
    assert largest_json <= INLINE_LIMIT_BYTES - MARGIN
