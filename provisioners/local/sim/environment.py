"""This process's environment changed for a while: how the CLI and the tests talk to a
simulation with its fake credentials, and none of the user's own (profiles, proxies)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping


@contextlib.contextmanager
def environment(values: Mapping[str, str], cleared: Iterable[str] = ()) -> Iterator[None]:
    """``values`` set and the ``cleared`` names unset for the duration; then every one of
    them is as it was before."""
    cleared = tuple(cleared)
    saved = {k: os.environ.get(k) for k in (*values, *cleared)}
    os.environ.update(values)
    for name in cleared:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
