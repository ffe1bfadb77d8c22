"""Shared test configuration: every test carries one of the unit/service/integration markers."""

from __future__ import annotations

import os
from typing import Any

import pytest

LEVELS = ("unit", "service", "integration")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its folder, so `-m unit` selects tests/unit and so on."""
    for item in items:
        for level in LEVELS:
            if f"{os.sep}tests{os.sep}{level}{os.sep}" in str(item.path):
                item.add_marker(getattr(pytest.mark, level))


def _hypothesis_profiles() -> None:
    """Property-based tests: a fixed seed by default (CI and everyday runs are reproducible);
    SWARMSTACK_HYPOTHESIS_EXAMPLES=2000 runs that many examples per property, random ones
    unless CI is set.

    That variable is listed in swarmstack.envvars, so the spec loader does not report it as an
    unknown SWARMSTACK_* variable.
    """
    from datetime import timedelta

    from hypothesis import HealthCheck, settings

    from swarmstack.envvars import HYPOTHESIS_EXAMPLES

    requested = os.environ.get(HYPOTHESIS_EXAMPLES)
    common: dict[str, Any] = {
        "deadline": timedelta(seconds=30),  # generous: the CI machine is shared
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    }
    examples = int(requested or 40)
    settings.register_profile(
        "fixed", derandomize=True, database=None, max_examples=examples, **common
    )
    settings.register_profile("explore", max_examples=examples, **common)
    # In CI (CI set) the seed stays fixed even when more examples are asked for.
    settings.load_profile("explore" if requested and not os.environ.get("CI") else "fixed")


_hypothesis_profiles()
