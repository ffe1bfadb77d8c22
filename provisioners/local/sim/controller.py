"""The controller that makes the local machines follow moto's Auto Scaling groups.

Every second it reads the groups and their instances through the AWS API (the moto server):
- an instance a group launched and that has no machine gets one, booted with the user data of
  its launch template version (cloud-init's NoCloud seed, see seed.py). Before the boot the
  instance's private IP in moto becomes the machine's address, so describe-instances, IMDS
  local-ipv4 and the machine agree;
- a machine whose instance is terminated (or gone) is powered off and deleted.
The round, the rows and the machines are instance_controller.py's (the same for every
simulated cloud). The controller writes what it sees to instances.json for `local status` and
`local up`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....contract import ROLE_TAG
from ..cluster import LocalCluster
from . import seed
from .fleet import MachineFleet
from .instance_controller import InstanceController

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


class Controller(InstanceController[Tracked]):
    def __init__(
        self,
        cluster: LocalCluster,
        endpoints: seed.Endpoints,
        clients: Clients,
        set_address: SetAddress,
        status_file: Path,
        log: Callable[[str], None],
    ) -> None:
        self.clients = clients
        self.set_address = set_address
        super().__init__(MachineFleet(cluster, endpoints, status_file, log))

    def leftover(self, name: str, role: str, address: str) -> Tracked:
        return Tracked(name, "-", role, "-", "gone", "running", address)

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
                    self._boot(known, template)
                if known is not None:
                    known.lifecycle_state = lifecycle_state
            for instance_id, known in self.tracked.items():
                details = described.get(instance_id)
                known.ec2_state = details["State"]["Name"] if details else "gone"
                if instance_id not in in_groups:
                    known.lifecycle_state = "-"
                if known.ec2_state not in RUNNING_STATES and known.machine != "removing":
                    self.remove_machine(known, instance_id)
            self.fleet.write_status(self.status_rows())

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

    def _boot(self, known: Tracked, template: dict[str, Any]) -> None:
        instance_id = known.instance_id
        self.boot_machine(
            known,
            instance_id,
            lambda: self._user_data(template),
            lambda address: self.set_address(instance_id, address),
            label=known.group,
        )


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
