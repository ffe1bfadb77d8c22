"""Host tuning over SSH, for hosts that got no cloud-init user data (bring-your-own, local).

The script is swarmstack.cloudinit's SSH form of the host tuning; it records the tuning's
digest in contract.TUNING_MARKER as its last step (cloud-init writes the same marker), and
the facts read that digest back, so a host is tuned again only when its tuning changed.

The script is streamed over the SSH channel's stdin into a fresh root-owned 0700 directory
under contract.STATE_DIR (never a fixed /tmp path another user could create or rewrite
first) and run from there with stdin from /dev/null: a command in the script that reads
stdin gets nothing instead of the rest of the script, as it would under `bash -s`.
"""

from __future__ import annotations

import shlex

from ..cloudinit.render import TuningScript, ssh_tuning
from ..contract import STATE_DIR
from ..spec import ClusterSpec, Role
from .ssh import Connection

__all__ = ["APPLY_COMMAND", "TuningScript", "apply_tuning", "digest", "tuning_script_for"]

_STATE_DIR = shlex.quote(STATE_DIR)
# Runs as root (Connection.run adds sudo). mktemp -d makes a new 0700 directory with a random
# name in a root-only directory; the trap removes it whatever the script's exit status. The
# umask is left alone: the script's own files and directories get the host's usual modes.
APPLY_COMMAND = (
    f"set -e; mkdir -p {_STATE_DIR}; "
    f"dir=$(mktemp -d {_STATE_DIR}/tuning.XXXXXXXX); trap 'rm -rf \"$dir\"' EXIT; "
    'cat >"$dir/tuning.sh"; bash "$dir/tuning.sh" </dev/null'
)


def tuning_script_for(spec: ClusterSpec, role: Role, *, local_machine: bool) -> TuningScript:
    """The tuning script for a host of ``role``, with the digest its marker will record."""
    return ssh_tuning(spec, role, local_machine=local_machine)


def digest(script: TuningScript) -> str:
    """What the host's marker says once ``script`` has run (compared with the facts)."""
    return script.digest


def apply_tuning(connection: Connection, script: TuningScript) -> None:
    """Run the script as root; it writes the marker itself when it succeeds."""
    connection.run(APPLY_COMMAND, stdin=script.text, mutating=True)
