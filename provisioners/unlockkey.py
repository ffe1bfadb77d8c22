"""Where a cluster's autolock unlock key is kept: a file only the user can read.

With ``autolock: true`` a manager whose docker restarts stays locked until it is given the
unlock key; losing the key means rebuilding the managers. The key is written, mode 0600, in
the cluster's own directory next to its other local state - ~/.config/swarmstack/NAME/ for
clusters on your hosts and clouds (as the clouds' known_hosts), /var/lib/swarmstack/local/NAME/
for local machines - or to a path the user names. Its content is never logged or printed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import UsageError
from .local import paths as local_paths

FILE_NAME = "unlock-key"


def default_unlock_key_file(cluster: str, *, local_machine: bool = False) -> Path:
    """The cluster's unlock-key file (``cluster`` is a validated spec name)."""
    if local_machine:
        return local_paths.STATE_ROOT / cluster / FILE_NAME
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "swarmstack" / cluster / FILE_NAME


def check_writable(path: Path) -> None:
    """Refuse, before anything changes on a host, a key file that could not be written."""
    if path.is_dir():
        raise UsageError(f"unlock key file {path} is a directory; name a file")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"unlock key file {path}: cannot write in {parent or path.parent}; the key of an "
            "autolocked swarm must be kept - name a writable path with --unlock-key-file"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"unlock key file {path} is not writable")


def save_unlock_key(path: Path, key: str) -> None:
    """Write the key atomically, mode 0600 (new directories 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, (key.strip() + "\n").encode())
        os.fsync(handle)
        os.close(handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(handle)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_unlock_key(path: Path) -> str:
    """The saved key; a clear error when it is missing, empty or readable by others."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise UsageError(
            f"no unlock key at {path}",
            hint="name the file with --unlock-key-file (bootstrap writes it when it forms an "
            "autolocked swarm or with --rotate-unlock-key)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"unlock key file {path}: cannot read it ({exc.__class__.__name__})"
        ) from None
    if mode & 0o077:
        raise UsageError(
            f"unlock key file {path} can be read by other users (mode {mode & 0o777:o}); "
            f"run chmod 600 {path} and rotate the key (bootstrap --rotate-unlock-key)"
        )
    if not text.startswith("SWMKEY-1-") or len(text.split()) != 1:
        raise UsageError(f"unlock key file {path} does not hold a swarm unlock key (SWMKEY-1-...)")
    return text
