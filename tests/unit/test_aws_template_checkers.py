"""cfn-lint and checkov on every golden template: what CI promises about the AWS stack.

Both run as the installed command-line tools (dev extras), offline: checkov is told not to
download anything or check for updates, so it only reads the files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from swarmstack.templates.aws import suppressions

from .aws_variants import GOLDEN_DIR

BIN = Path(sys.executable).parent
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.json")) + sorted(GOLDEN_DIR.glob("*.yaml"))
OFFLINE_CHECKOV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE"}


def test_there_are_golden_templates_to_check() -> None:
    names = {path.name for path in GOLDEN_FILES}
    assert {"default.json", "existing-vpc.json", "five-managers-prune-no-cloudwatch.json"} <= names


def test_cfn_lint_reports_nothing_at_any_level() -> None:
    # -c I adds the informational rules to errors and warnings; every region's spec is used.
    result = subprocess.run(
        [
            str(BIN / "cfn-lint"),
            "--include-checks",
            "I",
            "--regions",
            "ALL_REGIONS",
            "--non-zero-exit-code",
            "informational",
            "--format",
            "parseable",
            *map(str, GOLDEN_FILES),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout == ""
    assert result.returncode == 0, result.stderr


def _checkov(paths: list[Path]) -> dict[str, Any]:
    """One checkov run over all files (it starts slowly); the JSON report lists every check."""
    files = [arg for path in paths for arg in ("--file", str(path))]
    result = subprocess.run(
        [
            str(BIN / "checkov"),
            *files,
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **OFFLINE_CHECKOV},
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    return _checkov(GOLDEN_FILES)


def test_checkov_fails_nothing_and_skips_only_justified_findings(
    checkov_report: dict[str, Any],
) -> None:
    report = checkov_report
    results = report["results"]
    assert report["summary"]["parsing_errors"] == 0
    assert [(c["check_id"], c["file_path"]) for c in results["failed_checks"]] == []
    documented = {check for check, _ in suppressions.CHECKOV}
    for path in GOLDEN_FILES:
        # Every file was really read: checkov passed dozens of checks on it.
        passed = [c for c in results["passed_checks"] if c["file_path"].endswith(path.name)]
        assert len(passed) > 50, path.name
    for skipped in results["skipped_checks"]:
        assert skipped["check_id"] in documented, skipped["check_id"]
        assert len(skipped["check_result"]["suppress_comment"]) > 40


def test_the_secure_defaults_are_what_checkov_saw(checkov_report: dict[str, Any]) -> None:
    """Checks the reference template failed must pass here, not merely be absent."""
    passed = {
        c["check_id"]
        for c in checkov_report["results"]["passed_checks"]
        if c["file_path"].endswith("/default.json")
    }
    expected = {
        "CKV_AWS_24",  # no SSH from the world
        "CKV_AWS_23",  # every security group rule has a description
        "CKV_AWS_79",  # IMDSv2 only
        "CKV_AWS_111",  # no IAM write without constraints
        "CKV_AWS_66",  # log retention
        "CKV_AWS_27",  # encrypted queue
    }
    assert expected <= passed


def test_checkov_saw_the_file_system_encrypted_and_backed_up(
    checkov_report: dict[str, Any],
) -> None:
    passed = {
        c["check_id"]
        for c in checkov_report["results"]["passed_checks"]
        if c["file_path"].endswith("/shared-storage.json")
    }
    assert {"CKV_AWS_42"} <= passed  # EFS encrypted at rest
