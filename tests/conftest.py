"""Shared test configuration: every test carries one of the unit/service/integration markers."""

from __future__ import annotations

import os

import pytest

LEVELS = ("unit", "service", "integration")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its folder, so `-m unit` selects tests/unit and so on."""
    for item in items:
        for level in LEVELS:
            if f"{os.sep}tests{os.sep}{level}{os.sep}" in str(item.path):
                item.add_marker(getattr(pytest.mark, level))
