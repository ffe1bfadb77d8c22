"""Compare a desired body with what Azure returns: desired must be contained in actual.

Azure adds read-only fields (ids, etags, defaults) and never returns some write-only ones, so
"no change" means every value we ask for is already there. Ids and locations compare without
case and spaces, the way Azure treats them.
"""

from __future__ import annotations

from typing import Any

# Azure never returns these on GET; a tag carries a digest of customData instead.
WRITE_ONLY = frozenset({"customData", "adminPassword"})
_MISSING = object()


def differences(desired: Any, actual: Any, path: str = "") -> list[str]:
    """Paths (like `properties.securityRules[2].properties.priority`) that differ."""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        found: list[str] = []
        for key, value in desired.items():
            if key in WRITE_ONLY:
                continue
            child = f"{path}.{key}" if path else key
            found += differences(value, actual.get(key, _MISSING), child)
        return found
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return [path]
        found = []
        for index, (want, have) in enumerate(zip(desired, actual, strict=True)):
            found += differences(want, have, f"{path}[{index}]")
        return found
    if actual is _MISSING:
        return [path]
    if isinstance(desired, str) and isinstance(actual, str):
        key = path.rsplit(".", 1)[-1]
        if key == "location":
            return [] if _location(desired) == _location(actual) else [path]
        if key == "id" or desired.startswith("/subscriptions/"):
            return [] if desired.lower() == actual.lower() else [path]
    return [] if desired == actual else [path]


def _location(value: str) -> str:
    return value.replace(" ", "").lower()
