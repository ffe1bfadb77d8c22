"""The controller that makes the local machines follow moto's Auto Scaling groups.

Every second it reads the groups and their instances through the AWS API (the moto server):
- an instance a group launched and that has no machine gets one, booted with the user data of
  its launch template version (cloud-init's NoCloud seed, see seed.py). Before the boot the
  instance's private IP in moto becomes the machine's address, so describe-instances, IMDS
  local-ipv4 and the machine agree;
- a machine whose instance is terminated (or gone) is powered off and deleted.
Boots and removals run in a thread pool, so one slow boot does not hold up the others.
The controller writes what it sees to instances.json for `local status` and `local up`.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ....contract import ROLE_TAG
from ..cluster import LocalCluster
from ..plan import Role
from . import seed

BOOT_PARALLEL = 8
# Instance states of EC2 whose machine must run.
RUNNING_STATES = {"pending", "running", "stopping"}


@dataclass
class Tracked:
    """One instance the controller knows, and its machine."""

    instance_id: str
    group: str
    role: str
    lifecycle_state: str
    ec2_state: str
    machine: str  # booting, running, failed, removing
    address: str | None = None
    error: str | None = None


Clients = Callable[[str], Any]  # service name -> boto3 client of the simulated AWS
SetAddress = Callable[[str, str], None]  # (instance id, address) -> moto records it


class Controller:
    def __init__(
        self,
        cluster: LocalCluster,
        endpoints: seed.Endpoints,
        clients: Clients,
        set_address: SetAddress,
        status_file: Path,
        log: Callable[[str], None],
    ) -> None:
        self.cluster = cluster
        self.endpoints = endpoints
        self.clients = clients
        self.set_address = set_address
        self.status_file = status_file
        self.log = log
        self.tracked: dict[str, Tracked] = {}
        self._work: dict[str, Future[None]] = {}
        self._pool = ThreadPoolExecutor(max_workers=BOOT_PARALLEL, thread_name_prefix="machine")
        self._lock = threading.Lock()
        # Machines of an earlier run of the simulation: their instances died with its memory,
        # so the first poll removes them.
        for machine in cluster.machines:
            self.tracked[machine.name] = Tracked(
                machine.name, "-", machine.role, "-", "gone", "running", machine.address
            )

    # --- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # a failed poll is logged and retried; the loop must live on
                self.log("poll failed:\n" + traceback.format_exc())
            stop.wait(interval)
        # A boot in progress is not waited for: `local down` removes half-booted machines.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def step(self) -> None:
        in_groups = self._group_instances()
        ids = sorted(set(in_groups) | set(self.tracked))
        described = self._describe_instances(ids)
        with self._lock:
            for instance_id, (group, lifecycle_state, template) in in_groups.items():
                details = described.get(instance_id)
                if details is None:
                    continue
                state = details["State"]["Name"]
                known = self.tracked.get(instance_id)
                if known is None and state in RUNNING_STATES:
                    role = _tags(details).get(ROLE_TAG, "worker")
                    known = self.tracked[instance_id] = Tracked(
                        instance_id, group, role, lifecycle_state, state, "booting"
                    )
                    self._submit(instance_id, partial(self._boot, instance_id, template))
                if known is not None:
                    known.lifecycle_state = lifecycle_state
            for instance_id, known in self.tracked.items():
                details = described.get(instance_id)
                known.ec2_state = details["State"]["Name"] if details else "gone"
                if instance_id not in in_groups:
                    known.lifecycle_state = "-"
                if known.ec2_state not in RUNNING_STATES and known.machine != "removing":
                    known.machine = "removing"
                    self._submit(instance_id, partial(self._remove, instance_id))
            self._write_status()

    def _submit(self, instance_id: str, work: Callable[[], None]) -> None:
        before = self._work.get(instance_id)

        def after_previous() -> None:
            if before is not None:
                before.result()  # a removal waits for the boot it undoes
            work()

        self._work[instance_id] = self._pool.submit(after_previous)

    # --- reading the simulated AWS ------------------------------------------------------

    def _group_instances(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """instance id -> (group name, lifecycle state, launch template spec)."""
        found: dict[str, tuple[str, str, dict[str, Any]]] = {}
        paginator = self.clients("autoscaling").get_paginator("describe_auto_scaling_groups")
        for page in paginator.paginate():
            for group in page["AutoScalingGroups"]:
                for instance in group.get("Instances", []):
                    template = instance.get("LaunchTemplate") or group.get("LaunchTemplate", {})
                    found[instance["InstanceId"]] = (
                        group["AutoScalingGroupName"],
                        instance.get("LifecycleState", ""),
                        template,
                    )
        return found

    def _describe_instances(self, ids: list[str]) -> dict[str, Any]:
        if not ids:
            return {}
        ec2 = self.clients("ec2")
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 100):
            # By filter, not InstanceIds: an id moto no longer knows must not fail the call.
            pages = ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": ids[start : start + 100]}]
            )
            for page in pages:
                for reservation in page["Reservations"]:
                    for instance in reservation["Instances"]:
                        found[instance["InstanceId"]] = instance
        return found

    def _user_data(self, template: dict[str, Any]) -> bytes:
        """The launch template version's user data as EC2 hands it to the instance."""
        selector = (
            {"LaunchTemplateId": template["LaunchTemplateId"]}
            if template.get("LaunchTemplateId")
            else {"LaunchTemplateName": template["LaunchTemplateName"]}
        )
        versions = self.clients("ec2").describe_launch_template_versions(
            **selector, Versions=[str(template.get("Version") or "$Default")]
        )["LaunchTemplateVersions"]
        encoded = versions[0]["LaunchTemplateData"].get("UserData", "") if versions else ""
        return base64.b64decode(encoded)

    # --- machines ------------------------------------------------------------------------

    def _boot(self, instance_id: str, template: dict[str, Any]) -> None:
        known = self.tracked[instance_id]
        started = time.monotonic()
        try:
            user_data = self._user_data(template)

            def before_boot(root: Path) -> None:
                address = self.cluster.machine(instance_id).address
                known.address = address
                self.set_address(instance_id, address)
                files = seed.nocloud_files(user_data, instance_id, instance_id, self.endpoints)
                seed.write_seed(root, files)

            role: Role = "manager" if known.role == "manager" else "worker"
            self.cluster.boot_machine(
                role, instance_id, before_boot=before_boot, api_vfs_writable="network"
            )
        except Exception as exc:
            known.machine, known.error = "failed", str(exc)
            self.log(f"{instance_id}: boot failed: {exc}")
            return
        with self._lock:
            if known.machine == "booting":
                known.machine = "running"
        self.log(
            f"{instance_id} ({known.role}, {known.group}) booted at {known.address} "
            f"in {time.monotonic() - started:.1f} s"
        )

    def _remove(self, instance_id: str) -> None:
        try:
            if any(m.name == instance_id for m in self.cluster.machines):
                self.cluster.remove_machine(instance_id)
        except Exception as exc:
            self.log(f"{instance_id}: removing its machine failed: {exc}")
            return
        with self._lock:
            self.tracked.pop(instance_id, None)
        self.log(f"{instance_id} terminated: machine removed")

    def _write_status(self) -> None:
        rows = [asdict(t) for t in sorted(self.tracked.values(), key=lambda t: t.instance_id)]
        tmp = self.status_file.with_name(f".{self.status_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"time": time.time(), "instances": rows}, indent=2) + "\n")
        os.replace(tmp, self.status_file)


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
