"""The run's SSH connections: open while a host is worked on, few kept open between uses.

Every command of a run goes through ``HostConnections.use(address)``. It hands out the host's
open connection, or connects again (the run's one Connector: the same parsed known_hosts and
key, the same strict host-key check) when that host's connection was closed.

Why: each open paramiko connection has its own transport thread, so a run that kept every
host's connection from its facts to its end held one thread per host (~1000 at 1000 hosts).
Here, between uses, a connection stays open only if the run still wants that host (``wanted``)
and fewer than ``keep`` connections are kept (the pinned one - the anchor, where the tokens,
the label updates and the Ready poll run - always is). So at most ``keep`` connections are open
between uses, plus one per thread using one: a swarm of at most ``keep`` hosts never connects
twice to a host, and a larger one never holds a connection per host.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

from ..errors import RemoteCommandFailed
from .ssh import CommandRecord, Connection


class HostConnections:
    def __init__(self, connect: Callable[[str], Connection], keep: int) -> None:
        """``connect(address)`` makes a verified connection (retries included); ``keep`` is
        how many connections may stay open between uses (the pinned one among them)."""
        self._connect = connect
        self.keep = max(1, keep)
        self.pinned = ""
        # Whether the run will still use a host's connection (asked when it falls idle).
        self.wanted: Callable[[str], bool] = lambda address: True
        self.connects = 0  # connections made, first ones and reconnects
        self._lock = threading.Lock()
        self._open: dict[str, Connection] = {}
        self._users: dict[str, int] = {}  # threads inside use() per open connection
        self._host_locks: dict[str, threading.Lock] = {}  # one connect at a time per host
        self._retired: list[CommandRecord] = []  # what closed connections ran
        self._stopped = False

    @contextmanager
    def use(self, address: str) -> Iterator[Connection]:
        """The host's connection for the block (reconnecting if it was closed)."""
        connection = self._acquire(address)
        try:
            yield connection
        finally:
            self._release(address)

    def is_open(self, address: str) -> bool:
        with self._lock:
            return address in self._open

    def open_count(self) -> int:
        with self._lock:
            return len(self._open)

    def retain(self, addresses: Collection[str], pinned: str) -> None:
        """From now on only ``addresses`` are wanted and ``pinned`` is always kept; idle
        connections to any other host are closed now."""
        wanted = frozenset(addresses) | {pinned}
        with self._lock:
            self.pinned = pinned
            self.wanted = wanted.__contains__
            idle = [a for a, users in self._users.items() if users == 0 and a not in wanted]
            closing = [self._forget(address) for address in idle]
        for connection in closing:
            connection.close()

    def close_all(self) -> None:
        """Close every connection, those in use too (their commands fail at once), and make no
        new one: the run is over or stopping (Ctrl-C)."""
        with self._lock:
            self._stopped = True
            closing = [self._forget(address) for address in list(self._open)]
        for connection in closing:
            connection.close()

    def history(self) -> tuple[CommandRecord, ...]:
        """Every command the run ran, in the order they started."""
        with self._lock:
            records = self._retired + [r for c in self._open.values() for r in c.history]
        return tuple(sorted(records, key=lambda r: r.started))

    # --- inside -----------------------------------------------------------------------

    def _acquire(self, address: str) -> Connection:
        with self._lock:
            host_lock = self._host_locks.setdefault(address, threading.Lock())
        with host_lock:
            with self._lock:
                self._check_running(address)
                connection = self._open.get(address)
                if connection is not None:
                    self._users[address] += 1
                    return connection
            connection = self._connect(address)
            with self._lock:
                if self._stopped:
                    connection.close()
                    self._check_running(address)
                self._open[address] = connection
                self._users[address] = 1
                self.connects += 1
            return connection

    def _release(self, address: str) -> None:
        with self._lock:
            if address not in self._users:  # closed by close_all while in use
                return
            self._users[address] -= 1
            if self._users[address] or self._keeps(address):
                return
            connection = self._forget(address)
        connection.close()

    def _keeps(self, address: str) -> bool:
        """Whether a connection that just fell idle stays open (called under the lock)."""
        if address == self.pinned:
            return True
        if not self.wanted(address):
            return False
        others = sum(
            1 for a, users in self._users.items() if users == 0 and a not in (address, self.pinned)
        )
        return others < (self.keep - 1 if self.pinned else self.keep)  # a place for the pinned

    def _forget(self, address: str) -> Connection:
        connection = self._open.pop(address)
        del self._users[address]
        self._retired.extend(connection.history)
        return connection

    def _check_running(self, address: str) -> None:
        if self._stopped:
            raise RemoteCommandFailed(f"{address}: the run is stopping; no new SSH connection")
