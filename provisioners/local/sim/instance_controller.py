"""What every simulated cloud's controller does alike: a round a second, the instances it
tracks (a status row each, for `local status`), and their machines booted and removed through
the fleet (fleet.py). A cloud's controller adds only how it reads its instances:

    class Controller(InstanceController[Tracked]):
        def __init__(self, ...):
            super().__init__(MachineFleet(cluster, endpoints, status_file, log))
        def leftover(self, name, role, address): ...   # a machine of an earlier run
        def step(self): ...   # read the cloud; boot_machine / remove_machine; status_rows

The rows are dataclasses with at least instance_id, role, machine (booting, running, failed,
removing), address and error.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from . import seed
from .fleet import MachineFleet


class Row(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]  # a dataclass: asdict() makes its row
    instance_id: str
    role: str
    machine: str
    address: str | None
    error: str | None


Tracked = TypeVar("Tracked", bound=Row)


def _nothing() -> None:
    pass


class InstanceController(Generic[Tracked]):
    def __init__(self, fleet: MachineFleet) -> None:
        self.fleet = fleet
        self.log = fleet.log
        self.tracked: dict[str, Tracked] = {}
        self._lock = threading.Lock()
        # Machines of an earlier run of the simulation: their instances died with its memory,
        # so the first round removes them.
        for name, role, address in self.fleet.existing():
            self.tracked[name] = self.leftover(name, role, address)

    def leftover(self, name: str, role: str, address: str) -> Tracked:
        """The row of a machine an earlier run left, whose instance is gone."""
        raise NotImplementedError

    def step(self) -> None:
        """One round: read the cloud's instances, boot and remove machines, write the rows."""
        raise NotImplementedError

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # a failed round is logged and retried; the loop must live on
                self.log("round failed:\n" + traceback.format_exc())
            stop.wait(interval)
        self.fleet.shutdown()

    def boot_machine(
        self,
        known: Tracked,
        machine: str,
        user_data: Callable[[], bytes],
        record_address: Callable[[str], None],
        *,
        label: str,
        endpoints: seed.EndpointVariables | None = None,
    ) -> None:
        """Boot the instance's machine (named ``machine``); its address goes to the row and
        to the cloud (``record_address``) before the boot, its outcome to the row."""

        def on_address(address: str) -> None:
            known.address = address
            record_address(address)

        def on_done(error: Exception | None) -> None:
            with self._lock:
                if error is not None:
                    known.machine, known.error = "failed", str(error)
                elif known.machine == "booting":
                    known.machine = "running"

        self.fleet.boot(
            machine, known.role, user_data, on_address, on_done, label=label, endpoints=endpoints
        )

    def remove_machine(
        self, known: Tracked, machine: str, after: Callable[[], None] = _nothing
    ) -> None:
        """Remove the instance's machine; once it is gone, the row too, then ``after()``."""
        known.machine = "removing"

        def on_done(error: Exception | None) -> None:
            if error is None:
                with self._lock:
                    self.tracked.pop(known.instance_id, None)
                after()

        self.fleet.remove(machine, on_done)

    def status_rows(self) -> list[dict[str, Any]]:
        """The rows in instance order (call with the lock held)."""
        return [asdict(t) for t in sorted(self.tracked.values(), key=lambda t: t.instance_id)]
