"""Rendering within CloudFormation's size limits, and the `swarmstack aws template` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from troposphere import Join, Output, Template

from swarmstack.cli.main import cli
from swarmstack.errors import TemplateTooLarge
from swarmstack.templates.aws import INLINE_LIMIT_BYTES, render_body, render_template

from .aws_variants import golden_path


def _template_of_size(items: int) -> Template:
    """Deeply nested, short values: indentation dominates, as in real templates."""
    template = Template()
    values = [Join("", [Join("", ["x", "y"])]) for _ in range(items)]
    template.add_output(Output("Big", Value=Join("", values)))
    return template


def test_small_templates_stay_indented() -> None:
    rendered = render_body(_template_of_size(10))
    assert not rendered.minified
    assert rendered.body.startswith("{\n")
    assert rendered.fits_inline


def test_indented_over_the_limit_is_minified_when_that_fits() -> None:
    template = _template_of_size(600)
    rendered = render_body(template)
    assert rendered.indented_size > INLINE_LIMIT_BYTES
    assert rendered.minified
    assert rendered.size <= INLINE_LIMIT_BYTES
    assert "\n" not in rendered.body.rstrip("\n")
    assert render_template(template) == rendered.body
    assert json.loads(rendered.body) == template.to_dict()


def test_over_the_limit_even_minified_must_go_through_s3() -> None:
    template = _template_of_size(1500)
    with pytest.raises(TemplateTooLarge) as raised:
        render_template(template)
    assert "must be uploaded to S3" in raised.value.problems[0]
    assert "51,200" in raised.value.problems[0]
    rendered = render_body(template)  # callers that upload to S3 still get the body
    assert rendered.minified
    assert not rendered.fits_inline
    assert rendered.fits_s3
    assert json.loads(rendered.body) == template.to_dict()


def test_yaml_over_the_limit_points_to_json_and_s3() -> None:
    with pytest.raises(TemplateTooLarge) as raised:
        render_template(_template_of_size(1500), "yaml")
    assert "-o json" in (raised.value.hint or "")


# --- the command --------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def test_command_without_input_prints_the_default_template() -> None:
    code, out, err = _run("aws", "template")
    assert code == 0, err
    assert json.loads(out) == json.loads(golden_path("default").read_text(encoding="utf-8"))
    assert len(out.encode()) <= INLINE_LIMIT_BYTES  # uploadable as --template-body
    assert "create-stack" in err


def test_command_yaml_via_the_global_or_the_local_option() -> None:
    # Short-form YAML: the default stack's fits the inline limit like its JSON.
    expected = golden_path("default", "yaml").read_text(encoding="utf-8")
    code, out, err = _run("-o", "yaml", "aws", "template")
    assert (code, out) == (0, expected), err
    assert _run("aws", "template", "-o", "yaml")[1] == expected
    assert expected.startswith("AWSTemplateFormatVersion: '2010-09-09'\n")
    assert len(out.encode()) <= INLINE_LIMIT_BYTES
    # The next step names a YAML file for YAML printed on stdout.
    assert "--template-body file://swarm.yaml " in err
    assert "swarm.json" not in err


def test_command_yaml_over_the_limit_points_to_s3() -> None:
    # With shared storage the stack is over the inline limit in either form.
    code, out, err = _run("aws", "template", "-o", "yaml", "--shared-storage")
    assert (code, out) == (1, "")
    assert "must be uploaded to S3" in err
    code, out, err = _run("aws", "template", "-o", "yaml", "--shared-storage", "--for-s3")
    assert code == 0, err
    assert out.startswith("AWSTemplateFormatVersion: '2010-09-09'\n")
    assert "s3 cp swarm.yaml " in err


def test_command_writes_the_file_and_reports_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "swarm.json"
    code, stdout, err = _run("aws", "template", "--manager-size", "5", "--out", str(out))
    assert code == 0, err
    assert stdout == ""
    assert json.loads(out.read_text())["Parameters"]["ManagerSize"]["Default"] == "5"
    assert f"wrote {out}" in err


def test_command_rejects_a_bad_spec_with_exit_code_2() -> None:
    code, out, err = _run("aws", "template", "--manager-size", "2")
    assert code == 2
    assert out == ""
    assert "--manager-size=2: must be 1, 3, 5 or 7" in err


def test_command_reports_aws_only_problems_with_exit_code_2() -> None:
    code, _, err = _run("aws", "template", "--worker-disk-type", "Premium_LRS")
    assert code == 2
    assert "worker_disk_type=Premium_LRS: on AWS must be gp3, gp2, standard" in err


def test_command_minifies_and_says_so() -> None:
    # The default stack is over the limit when indented (the user data alone is ~20 KB).
    code, out, err = _run("aws", "template")
    assert code == 0, err
    assert out.count("\n") == 1
    assert "writing minified JSON" in err
    assert json.loads(out) == json.loads(golden_path("default").read_text(encoding="utf-8"))


def test_command_refuses_a_template_only_s3_can_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("swarmstack.templates.aws.render.INLINE_LIMIT_BYTES", 20_000)
    code, out, err = _run("aws", "template")
    assert code == 1
    assert out == ""
    assert "must be uploaded to S3" in err
    code, out, err = _run("aws", "template", "--for-s3")
    assert code == 0
    assert json.loads(out)["Resources"]
    assert "too large for --template-body" in err
