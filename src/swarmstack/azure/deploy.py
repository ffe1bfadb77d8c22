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
from ..handoff import CloudSsh, HandoffProgress
from ..spec import ClusterSpec
from ..templates.azure import AzureSettings, ConcreteRefs, build_resources, resolve_settings
from ..templates.azure.parameters import parameter_values
from .apply import apply_plan
from .clients import AzureClients
from .discover import Discovery, discover
from .engine import Event
from .handoff import bootstrap_discovered_nodes
from .inputs import check_resource_group, location_of
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

    def bootstrap(
        self, discovery: Discovery, ssh: CloudSsh, progress: HandoffProgress
    ) -> dict[str, Any]:
        return bootstrap_discovered_nodes(self.spec, discovery, ssh, progress)
