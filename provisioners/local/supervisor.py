"""The per-machine supervisor: runs systemd-nspawn and starts it again when the machine reboots.

Started detached (own session) by `machine.start` as
    python -m swarmstack.provisioners.local.supervisor CONFIG.json
It joins the machine's cgroups, runs nspawn, and on exit code 133 (the machine ran
`systemctl reboot`) boots it again. SIGTERM powers the machine off cleanly (nspawn turns it
into a shutdown request for the machine's systemd), SIGKILL after a grace period.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

REBOOT_EXIT = 133
POWEROFF_GRACE = 30.0
# A machine that fails at once again and again is broken, not rebooting.
MAX_FAST_RESTARTS = 5


def nspawn_command(config: dict[str, Any]) -> list[str]:
    return [
        "systemd-nspawn",
        "--boot",
        # Unique on the host (nspawn keeps per-machine files under /run by this name);
        # the hostname inside is the short name.
        f"--machine={config.get('machine', config['name'])}",
        f"--hostname={config['name']}",
        f"--directory={config['root']}",
        f"--network-namespace-path={config['netns']}",
        "--capability=all",
        "--register=no",
        "--keep-unit",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        f"--bind={config['docker_data']}:/var/lib/docker",
        "--console=read-only",
    ]


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} supervisor: {message}", file=sys.stderr, flush=True)


def supervise(config: dict[str, Any]) -> int:
    for path in config["cgroups"]:
        Path(path, "cgroup.procs").write_text(f"{os.getpid()}\n")
    env = {
        **os.environ,
        "SYSTEMD_SECCOMP": "0",
        "SYSTEMD_NSPAWN_API_VFS_WRITABLE": config.get("api_vfs_writable", "1"),
    }
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.terminate()  # nspawn asks the machine's systemd to power off

            def kill_later(process: subprocess.Popen[bytes]) -> None:
                time.sleep(POWEROFF_GRACE)
                if process.poll() is None:
                    log("machine did not power off in time; killing it")
                    process.kill()

            threading.Thread(target=kill_later, args=(child,), daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    fast_restarts = 0
    while not stopping.is_set():
        started = time.monotonic()
        log("starting " + config["name"])
        child = subprocess.Popen(nspawn_command(config), env=env, stdin=subprocess.DEVNULL)
        if stopping.is_set():  # SIGTERM arrived while nspawn was being started
            child.terminate()
        code = child.wait()
        if stopping.is_set():
            break
        if code != REBOOT_EXIT:
            log(f"machine exited with code {code}; not restarting")
            return code
        fast_restarts = fast_restarts + 1 if time.monotonic() - started < 10 else 0
        if fast_restarts > MAX_FAST_RESTARTS:
            log("machine keeps rebooting at once; giving up")
            return code
        log("machine rebooted; booting it again")
    log("stopped")
    return 0


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    sys.exit(supervise(config))


if __name__ == "__main__":
    main()
