"""`azure deploy` as an object a command drives: check, plan, apply, discover, bootstrap.

Input is checked locally first (resource group name, location, SSH route for the bootstrap);
then the plan is read from what exists; the caller shows it and confirms; `apply` creates or
updates the resources in dependency order; `discover` reads the nodes back for the SSH
bootstrap. Nothing here prints: progress goes to the callbacks the caller passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..handoff import HOST_KEYS_TIMEOUT, CloudSsh, HandoffProgress
from ..spec import ClusterSpec
from ..templates.azure import AzureSettings, ConcreteRefs, build_resources, resolve_settings
from ..templates.azure.parameters import parameter_values
from .apply import apply_plan
from .clients import AzureClients
from .discover import Discovery, discover
from .engine import Event
from .handoff import bootstrap_discovered_nodes, instance_name
from .inputs import check_resource_group, location_of
from .node_records import NodeRecord, last_record, read_console, wait_for_records
from .plan import Plan, make_plan


def _ignore(_event: Event) -> None:
    """The default callback: nothing to report to."""


@dataclass
class AzureDeployment:
    """One deployment of a spec into a resource group."""

    clients: AzureClients
    spec: ClusterSpec
    settings: AzureSettings
    group: str
    location: str

    @staticmethod
    def check_inputs(
        spec: ClusterSpec,
        group: str,
        *,
        encryption_at_host: bool,
        bootstrap: bool,
        location_label: str = "--location",
    ) -> tuple[AzureSettings, str]:
        """Everything that can be checked without Azure, in the order a user fixes it."""
        if spec.shared_storage:
            raise UsageError(
                "shared_storage=true: `azure deploy` does not create the NFS storage yet",
                hint="deploy the ARM template of `swarmstack azure template --shared-storage` "
                "with `az deployment group create`, or set shared_storage: false",
            )
        settings = resolve_settings(spec, encryption_at_host=encryption_at_host)
        location = location_of(spec, location_label)
        check_resource_group(group)
        if bootstrap and spec.ssh_cidr is None:
            raise UsageError(
                "ssh_cidr=null: the SSH bootstrap needs SSH to the managers from your network",
                hint="set ssh_cidr (--ssh-cidr) to the network you run swarmstack from, "
                "or pass --no-bootstrap to create the resources only",
            )
        return settings, location

    def plan(self) -> Plan:
        """Read what exists and compare it with the resources the spec asks for."""
        refs = ConcreteRefs(
            self.clients.subscription_id, self.group, parameter_values(self.settings, self.location)
        )
        resources = build_resources(self.settings, refs)
        return make_plan(
            self.clients, self.group, self.location, self.spec.name, dict(self.spec.tags), resources
        )

    def apply(
        self, plan: Plan, poll_seconds: float, on_event: Callable[[Event], None] = _ignore
    ) -> None:
        apply_plan(self.clients, plan, on_event, poll_seconds)

    def discover(self) -> Discovery:
        return discover(self.clients, self.group, self.settings.names, self.settings.admin_username)

    def node_record(self, discovery: Discovery, instance: str) -> NodeRecord | None:
        """The newest record the instance wrote on its serial console (node_records.py)."""
        node = next(n for n in discovery.nodes if instance_name(n) == instance)
        console = read_console(self.clients, self.group, node.scale_set, node.instance_id)
        return last_record(console, instance)

    def node_records(
        self,
        discovery: Discovery,
        *,
        ready: bool,
        timeout: float,
        info: Callable[[str], None] = lambda _line: None,
    ) -> dict[str, NodeRecord]:
        """Wait until every instance wrote its record (``ready``: a Ready one)."""
        return wait_for_records(
            lambda instance: self.node_record(discovery, instance),
            [instance_name(n) for n in discovery.nodes],
            ready=ready,
            timeout=timeout,
            info=info,
        )

    def bootstrap(
        self,
        discovery: Discovery,
        ssh: CloudSsh,
        progress: HandoffProgress,
        host_keys_timeout: float = HOST_KEYS_TIMEOUT,
    ) -> dict[str, Any]:
        """Pin the host keys the nodes published, then form the swarm over SSH. With trust on
        first use the records are read once, without waiting for silent nodes."""
        if ssh.trust_on_first_use:
            records = self._records_now(discovery)
        else:
            records = self.node_records(
                discovery, ready=False, timeout=host_keys_timeout, info=progress.info
            )
        return bootstrap_discovered_nodes(self.spec, discovery, ssh, progress, records)

    def _records_now(self, discovery: Discovery) -> dict[str, NodeRecord]:
        found = {}
        for node in discovery.nodes:
            record = self.node_record(discovery, instance_name(node))
            if record is not None:
                found[instance_name(node)] = record
        return found
