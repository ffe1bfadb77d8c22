"""The setup script as AWS user data carries it: without its comments.

The comments explain the script to the people who read it in the repository
(templates/host-setup.sh.j2) or over SSH (`swarmstack render cloudinit --form script`); a
cloud node only runs it. On AWS the user data sits, gzip-compressed, inside a template that
must fit CloudFormation's 51,200-byte inline limit - the node agent's Python is shipped
without comments and docstrings for the same reason (agent.py). Only comments go: every
other line, character and blank line stays, so line numbers in bash errors still match.
"""

from __future__ import annotations

import re

# `  # ...` at the end of a line of code (two spaces before it, as the template writes them).
_TRAILING = re.compile(r"(?P<code>.*\S)  +# .*")


def without_comments(script: str) -> str:
    """``script`` minus its comment lines and trailing comments; the shebang and shellcheck
    directives stay. A trailing comment goes only when the code before it has balanced quotes,
    so a "  # " inside a string is never mistaken for one."""
    lines = script.split("\n")
    kept = lines[:1]
    for line in lines[1:]:
        stripped = line.lstrip()
        if stripped.startswith("#") and not stripped.startswith("# shellcheck "):
            kept.append("")
            continue
        match = _TRAILING.fullmatch(line)
        if match and _quotes_balanced(match["code"]) and "<<" not in match["code"]:
            line = match["code"]
        kept.append(line)
    return "\n".join(kept)


def _quotes_balanced(code: str) -> bool:
    return code.count("'") % 2 == 0 and code.count('"') % 2 == 0
