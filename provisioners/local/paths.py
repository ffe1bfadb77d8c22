"""Where the local provider keeps things on the host."""

from __future__ import annotations

import os
from pathlib import Path

# Overridable for experiments; tests and the CLI use the defaults.
CACHE_ROOT = Path(os.environ.get("SWARMSTACK_LOCAL_CACHE", "/var/cache/swarmstack"))
STATE_ROOT = Path(os.environ.get("SWARMSTACK_LOCAL_STATE", "/var/lib/swarmstack/local"))
IMAGES = CACHE_ROOT / "images"
