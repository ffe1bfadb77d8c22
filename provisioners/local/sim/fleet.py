"""The simulations' machine handling, the same for every cloud: one local machine per
simulated instance, booted with that instance's user data (cloud-init's NoCloud seed) and the
endpoint variables of the simulated cloud, and removed when the instance is gone.

A cloud's controller decides which instances should have a machine; the fleet does the rest:
boots and removals run in a thread pool (one slow boot does not hold up the others), a removal
waits for the boot it undoes, and the status rows go to a file for `local status`.

    fleet = MachineFleet(cluster, endpoints, status_file, log)
    fleet.boot(instance_id, role, user_data=lambda: b"...", on_address=record)
    fleet.remove(instance_id)
    fleet.write_status(rows)
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..cluster import LocalCluster
from ..plan import Role
from . import seed

BOOT_PARALLEL = 8
Log = Callable[[str], None]
# Called once the instance's machine has its address, before it boots.
OnAddress = Callable[[str], None]
# Called when a boot or removal ends: (error or None).
OnDone = Callable[[Exception | None], None]


def _nothing(_error: Exception | None) -> None:
    pass


class MachineFleet:
    def __init__(
        self,
        cluster: LocalCluster,
        endpoints: seed.EndpointVariables,
        status_file: Path,
        log: Log,
    ) -> None:
        self.cluster = cluster
        self.endpoints = endpoints
        self.status_file = status_file
        self.log = log
        self._work: dict[str, Future[None]] = {}
        self._pool = ThreadPoolExecutor(max_workers=BOOT_PARALLEL, thread_name_prefix="machine")
        self._lock = threading.Lock()

    def existing(self) -> list[tuple[str, str, str]]:
        """(name, role, address) of the machines already there (an earlier run's)."""
        return [(m.name, m.role, m.address) for m in self.cluster.machines]

    def boot(
        self,
        instance_id: str,
        role: str,
        user_data: Callable[[], bytes],
        on_address: OnAddress,
        on_done: OnDone = _nothing,
        label: str = "",
        endpoints: seed.EndpointVariables | None = None,
    ) -> None:
        """Boot a machine named after the instance; user_data() is read just before.
        ``endpoints``: this instance's variables, when they differ from the cluster's."""
        variables = endpoints or self.endpoints

        def work() -> None:
            started = time.monotonic()
            try:
                data = user_data()

                def before_boot(root: Path) -> None:
                    address = self.cluster.machine(instance_id).address
                    on_address(address)
                    files = seed.nocloud_files(data, instance_id, instance_id, variables)
                    seed.write_seed(root, files)

                kind: Role = "manager" if role == "manager" else "worker"
                machine = self.cluster.boot_machine(
                    kind, instance_id, before_boot=before_boot, api_vfs_writable="network"
                )
            except Exception as exc:
                self.log(f"{instance_id}: boot failed: {exc}")
                on_done(exc)
                return
            self.log(
                f"{instance_id} ({role}{', ' + label if label else ''}) booted at "
                f"{machine.address} in {time.monotonic() - started:.1f} s"
            )
            on_done(None)

        self._submit(instance_id, work)

    def remove(self, instance_id: str, on_done: OnDone = _nothing) -> None:
        """Power the instance's machine off and delete it (after any boot of it ends)."""

        def work() -> None:
            try:
                if any(m.name == instance_id for m in self.cluster.machines):
                    self.cluster.remove_machine(instance_id)
            except Exception as exc:
                self.log(f"{instance_id}: removing its machine failed: {exc}")
                on_done(exc)
                return
            self.log(f"{instance_id} gone: machine removed")
            on_done(None)

        self._submit(instance_id, work)

    def _submit(self, instance_id: str, work: Callable[[], None]) -> None:
        with self._lock:
            before = self._work.get(instance_id)

            def after_previous() -> None:
                if before is not None:
                    before.result()  # a removal waits for the boot it undoes
                work()

            self._work[instance_id] = self._pool.submit(after_previous)

    def write_status(self, rows: list[dict[str, Any]]) -> None:
        tmp = self.status_file.with_name(f".{self.status_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"time": time.time(), "instances": rows}, indent=2) + "\n")
        os.replace(tmp, self.status_file)

    def shutdown(self) -> None:
        """A boot in progress is not waited for: `local down` removes half-booted machines."""
        self._pool.shutdown(wait=False, cancel_futures=True)
