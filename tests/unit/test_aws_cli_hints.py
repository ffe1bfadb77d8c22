"""What the AWS commands suggest next: a recipe that works for the template's size, and a
resume command through the same connection (issue 12, point 7)."""

from __future__ import annotations

from pathlib import Path

from swarmstack.aws.hints import resume_command
from swarmstack.aws.readiness import SUCCESS_SIGNAL
from swarmstack.cli.aws_template import next_step


def test_a_template_over_the_inline_limit_gets_an_s3_recipe_only() -> None:
    line = next_step("prod", Path("out/swarm.json"), inline=False, key_name=None)
    assert "--template-body" not in line
    assert "aws s3 cp out/swarm.json s3://<bucket>/" in line
    assert "--template-url https://<bucket>.s3.amazonaws.com/swarm.json" in line
    assert "ParameterKey=KeyName" in line


def test_a_template_that_fits_gets_the_template_body_recipe() -> None:
    line = next_step("prod", Path("swarm.json"), inline=True, key_name="ops")
    assert "--template-body file://swarm.json" in line
    assert "--template-url" not in line
    assert "KeyName" not in line


def test_the_resume_command_repeats_endpoint_and_profile_quoted() -> None:
    assert resume_command("prod", "eu-west-1") == (
        "swarmstack aws status --name prod --region eu-west-1 --wait"
    )
    assert resume_command(
        "prod", "eu-west-1", profile="my profile", endpoint_url="http://127.0.0.1:5000"
    ) == (
        "swarmstack aws status --name prod --region eu-west-1 --wait "
        "--endpoint-url http://127.0.0.1:5000 --profile 'my profile'"
    )


def test_only_success_signals_count_as_ready() -> None:
    assert SUCCESS_SIGNAL.fullmatch("Received SUCCESS signal with UniqueId i-0abc123")
    assert not SUCCESS_SIGNAL.fullmatch("Received FAILURE signal with UniqueId i-0abc123")
    assert not SUCCESS_SIGNAL.fullmatch("Resource creation Initiated")
