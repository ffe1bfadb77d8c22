"""A real NFS 4.1 server on a bridge address, standing in for EFS or Azure Files: NFS-Ganesha
(user space: this host's kernel has no nfsd) exporting one directory as the share's root,
as EFS exports its file system at ``:/``.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .running import stop, wait_until

NFS_PORT = 2049

CONFIG = """\
NFS_CORE_PARAM {{
    Protocols = 4;
    Bind_addr = {address};
    NFS_Port = {port};
    Enable_NLM = false;
    Enable_RQUOTA = false;
}}
NFSV4 {{
    # No 90 s grace period at start: the share has no clients to recover yet.
    Graceless = true;
    Minor_Versions = 1, 2;
    RecoveryRoot = "{state}/recovery";
}}
EXPORT {{
    Export_Id = 1;
    Path = "{export}";
    Pseudo = "/";
    Access_Type = RW;
    # EFS's default policy: root on a client is root on the share.
    Squash = No_Root_Squash;
    SecType = sys;
    Protocols = 4;
    Transports = TCP;
    FSAL {{ Name = VFS; }}
}}
LOG {{
    Default_Log_Level = WARN;
}}
"""


class NfsServer:
    """ganesha.nfsd in the foreground, serving ``export`` at ``address``:2049 from start() until
    close() (use with running.started)."""

    def __init__(self, address: str, workdir: Path) -> None:
        self.address = address
        self.state = workdir / "ganesha"
        self.export = workdir / "export"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.state / "recovery").mkdir(parents=True)
        self.export.mkdir(parents=True)
        config = self.state / "ganesha.conf"
        config.write_text(
            CONFIG.format(address=self.address, port=NFS_PORT, state=self.state, export=self.export)
        )
        self.process = subprocess.Popen(
            [
                "ganesha.nfsd",
                "-F",
                "-f",
                str(config),
                "-L",
                str(self.log),
                "-p",
                str(self.state / "ganesha.pid"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_listening()

    @property
    def log(self) -> Path:
        return self.state / "ganesha.log"

    def _wait_until_listening(self, timeout: float = 30) -> None:
        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"ganesha.nfsd exited: {self.log_tail()}")
            try:
                socket.create_connection((self.address, NFS_PORT), timeout=1).close()
            except OSError:
                return False
            return True

        try:
            wait_until(listening, timeout, "ganesha.nfsd to listen", every=0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}: {self.log_tail()}") from None

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-10:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        stop(self.process)
