"""Where the local provider keeps things on the host."""

from __future__ import annotations

import os
from pathlib import Path

from ...envvars import LOCAL_CACHE, LOCAL_STATE

# Overridable for experiments; tests and the CLI use the defaults.
CACHE_ROOT = Path(os.environ.get(LOCAL_CACHE, "/var/cache/swarmstack"))
STATE_ROOT = Path(os.environ.get(LOCAL_STATE, "/var/lib/swarmstack/local"))
IMAGES = CACHE_ROOT / "images"
