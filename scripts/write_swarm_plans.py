"""Rewrite the expected steps and host commands in tests/unit/swarm_plans/*.json.

Only after an intended change to the planner or to provisioners/commands.py: then read the
diff (`git diff tests/unit/swarm_plans`) line by line - the files are the reviewed contract of
what each host receives, and the unit test never rewrites them itself.

    .venv/bin/python scripts/write_swarm_plans.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.unit.test_swarm_plans import CASES, expected_of, plan_case  # noqa: E402


def main() -> None:
    for path in CASES:
        case = json.loads(path.read_text())
        if "error" in case:
            continue
        case["expected"] = expected_of(plan_case(case))
        path.write_text(json.dumps(case, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
