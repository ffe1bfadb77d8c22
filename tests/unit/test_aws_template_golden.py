"""Golden files: the rendered template of each spec variant, reviewed by a person.

Regenerate only on purpose, then review the diff before committing:
    SWARMSTACK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_aws_template_golden.py
"""

from __future__ import annotations

import json
import os

import pytest

from swarmstack.templates.aws import INLINE_LIMIT_BYTES, build_template, render_body

from .aws_variants import VARIANTS, golden_path

REGENERATE = os.environ.get("SWARMSTACK_REGEN_GOLDEN") == "1"
CASES = [(name, "json") for name in VARIANTS] + [("default", "yaml")]


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_rendered_template_matches_reviewed_golden_file(name: str, fmt: str) -> None:
    rendered = render_body(build_template(VARIANTS[name]), "yaml" if fmt == "yaml" else "json")
    # Golden JSON is kept indented so a reviewer can read its diff, even when the body the
    # command prints is minified to fit the inline limit; the content must be identical.
    reviewable = rendered.body
    if rendered.minified:
        reviewable = json.dumps(json.loads(rendered.body), indent=1, sort_keys=True) + "\n"
    path = golden_path(name, fmt)
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reviewable, encoding="utf-8")
        pytest.skip(f"regenerated {path.name}: review `git diff` before committing")
    assert path.exists(), f"{path} is missing; create it with SWARMSTACK_REGEN_GOLDEN=1"
    assert reviewable == path.read_text(encoding="utf-8")


# The EFS resources push these over the inline limit even minified while each role carries
# its own copy of the user data; `aws launch-stack` uploads such a body to S3 (TemplateURL).
THROUGH_S3 = {"shared-storage", "shared-storage-existing-vpc"}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_golden_templates_fit_inline_indented_when_they_can(name: str) -> None:
    rendered = render_body(build_template(VARIANTS[name]))
    assert rendered.fits_inline == (name not in THROUGH_S3)
    assert rendered.fits_s3
    assert rendered.minified == (rendered.indented_size > INLINE_LIMIT_BYTES)


def test_rendering_is_deterministic() -> None:
    first = render_body(build_template(VARIANTS["default"])).body
    second = render_body(build_template(VARIANTS["default"])).body
    assert first == second
