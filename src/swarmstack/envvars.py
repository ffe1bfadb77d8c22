"""The SWARMSTACK_* environment variables that are not spec parameters.

Every other SWARMSTACK_<NAME> must be a spec parameter (swarmstack.specload), so a misspelt
variable is reported instead of silently ignored. A new variable is added here.
"""

from __future__ import annotations

# Where the local provider caches base images and keeps cluster state (also read by
# scripts/testbed-clean.sh).
LOCAL_CACHE = "SWARMSTACK_LOCAL_CACHE"
LOCAL_STATE = "SWARMSTACK_LOCAL_STATE"
# How many examples the property-based tests try (tests/unit/test_properties_*.py).
HYPOTHESIS_EXAMPLES = "SWARMSTACK_HYPOTHESIS_EXAMPLES"
# =1: the golden-file tests rewrite their files for review instead of comparing.
REGEN_GOLDEN = "SWARMSTACK_REGEN_GOLDEN"

NOT_SPEC_PARAMETERS = frozenset({LOCAL_CACHE, LOCAL_STATE, HYPOTHESIS_EXAMPLES, REGEN_GOLDEN})
