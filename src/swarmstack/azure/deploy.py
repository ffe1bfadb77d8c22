"""`azure deploy` as an object a command drives: check, plan, deploy, wait for the swarm.

Input is checked locally first (resource group name, location, spec); then the plan is read
from what exists (create / update / no change per resource); the caller shows it and
confirms; `deploy` submits the cluster's ARM template as one template deployment
(template_deployment.py) - the same template a user deploys by hand - and watches it; the
nodes then form the swarm themselves, and `wait_for_swarm` waits until every instance says on
its serial console that its node is Ready, pinning the host keys it published. SSH is used
only for the optional `bootstrap` (--ssh-bootstrap). Nothing here prints: progress goes to the
callbacks the caller passes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import AzureInterrupted, UsageError
from ..handoff import HOST_KEYS_TIMEOUT, CloudSsh, HandoffProgress, pin_published_host_keys
from ..spec import ClusterSpec
from ..stepgraph import Event
from ..templates.azure import (
    AzureResource,
    AzureSettings,
    ConcreteRefs,
    build_resources,
    resolve_settings,
)
from ..templates.azure.arm import arm_template
from ..templates.azure.parameters import parameter_values
from .clients import AzureClients
from .discover import Discovery, discover
from .failures import azure_errors
from .handoff import bootstrap_discovered_nodes, instance_name, published_keys
from .inputs import check_resource_group, location_of
from .node_records import NodeRecord, last_record, read_console, wait_for_records
from .plan import Plan, label, make_plan
from .template_deployment import TERMINAL, TemplateDeployment, deployment_name

# Seconds to wait for every node to be Ready in the swarm after the deployment: boot,
# cloud-init, Docker's installation and the joins, one manager at a time.
READY_TIMEOUT = 900.0
# The deployment record's tag naming what was deployed (a digest of template and parameters).
DIGEST_TAG = "swarmstack-template-digest"


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
        ssh_bootstrap: bool,
        location_label: str = "--location",
    ) -> tuple[AzureSettings, str]:
        """Everything that can be checked without Azure, in the order a user fixes it."""
        settings = resolve_settings(spec, encryption_at_host=encryption_at_host)
        location = location_of(spec, location_label)
        check_resource_group(group)
        if ssh_bootstrap and spec.ssh_cidr is None:
            raise UsageError(
                "--ssh-bootstrap needs ssh_cidr (--ssh-cidr): without it no SSH reaches the "
                "managers",
                hint="set ssh_cidr to the network you connect from, or leave out "
                "--ssh-bootstrap (the nodes form the swarm themselves)",
            )
        return settings, location

    # What the spec makes, computed once per deployment (rendering renders the custom data).
    @cached_property
    def parameters(self) -> dict[str, Any]:
        return parameter_values(self.settings, self.location)

    @cached_property
    def arm(self) -> dict[str, Any]:
        return arm_template(self.settings)

    @cached_property
    def resources(self) -> list[AzureResource]:
        refs = ConcreteRefs(self.clients.subscription_id, self.group, self.parameters)
        return build_resources(self.settings, refs)

    @cached_property
    def template(self) -> TemplateDeployment:
        labels = {resource.name.lower(): label(resource) for resource in self.resources}
        return TemplateDeployment(self.clients, self.group, deployment_name(self.spec.name), labels)

    @cached_property
    def digest(self) -> str:
        """What the deployment is made of (template and parameters), to tell whether the
        last deployment is the one this spec and this swarmstack would make."""
        made_of = {"template": self.arm, "parameters": self.parameters}
        text = json.dumps(made_of, sort_keys=True).encode()
        return hashlib.sha256(text).hexdigest()[:32]

    def plan(self) -> Plan:
        """Read what exists and compare it with the resources the spec asks for; the
        deployment record says whether the rest of the template (vault, storage, roles) is
        in place as this version of swarmstack writes it."""
        plan = make_plan(
            self.clients,
            self.group,
            self.location,
            self.spec.name,
            dict(self.spec.tags),
            self.resources,
        )
        record = None if plan.create_group else self.template.get()
        return plan.with_deployment(_deployment_state(record, self.digest))

    def deploy(
        self, plan: Plan, poll_seconds: float, on_event: Callable[[Event], None] = _ignore
    ) -> dict[str, Any]:
        """Create the group if needed, then deploy the template and watch it to the end;
        returns the deployment's outputs. An earlier deployment still running is waited for
        first (Resource Manager would refuse a second one). Interrupted (Ctrl-C, or a
        callback that raises KeyboardInterrupt), it says that Azure carries on."""
        template = self.template
        try:
            if plan.deployment == "running":
                on_event(Event(template.name, template.label, "waiting", "an earlier deploy"))
                template.watch(poll_seconds, on_event)
            if plan.create_group:
                with azure_errors(f"resource group {self.group}"):
                    self.clients.resources.resource_groups.create_or_update(
                        self.group, {"location": self.location, "tags": plan.group_tags}
                    )
                on_event(Event("group", f"resourceGroup ({self.group})", "created"))
            template.start(self.arm, self.parameters, {DIGEST_TAG: self.digest})
            on_event(Event(template.name, template.label, "submitted"))
            record = template.watch(poll_seconds, on_event)
        except KeyboardInterrupt:
            raise AzureInterrupted(
                f"interrupted: {template.label} goes on in Azure",
                hint="run the same command again: it waits for that deployment, then for the swarm",
            ) from None
        if record.get("properties", {}).get("provisioningState") != "Succeeded":
            raise template.failure(record)
        outputs = record["properties"].get("outputs") or {}
        return {key: value.get("value") for key, value in outputs.items()}

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
        poll: float = 10.0,
    ) -> dict[str, NodeRecord]:
        """Wait until every instance wrote its record (``ready``: a Ready one)."""
        return wait_for_records(
            lambda instance: self.node_record(discovery, instance),
            [instance_name(n) for n in discovery.nodes],
            ready=ready,
            timeout=timeout,
            info=info,
            poll=poll,
        )

    def wait_for_swarm(
        self,
        discovery: Discovery,
        ssh: CloudSsh,
        progress: HandoffProgress,
        *,
        timeout: float = READY_TIMEOUT,
        poll: float = 10.0,
    ) -> dict[str, NodeRecord]:
        """Until every node says it is Ready in the swarm; then pin the host keys they
        published in the cluster's known_hosts, so later SSH trusts nothing on first use."""
        records = self.node_records(
            discovery, ready=True, timeout=timeout, info=progress.info, poll=poll
        )
        settings = ssh.settings(self.spec, discovery.admin_username)
        pin_published_host_keys(
            settings.known_hosts, published_keys(discovery, records, settings.port), progress
        )
        return records

    def bootstrap(
        self,
        discovery: Discovery,
        ssh: CloudSsh,
        progress: HandoffProgress,
        host_keys_timeout: float = HOST_KEYS_TIMEOUT,
    ) -> dict[str, Any]:
        """Converge the swarm over SSH too (--ssh-bootstrap): pin the host keys the nodes
        published, then run the SSH bootstrap. With trust on first use the records are read
        once, without waiting for silent nodes."""
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


def _deployment_state(record: dict[str, Any] | None, digest: str) -> str:
    """missing | running | failed | outdated | current: the last deployment of this cluster."""
    if record is None:
        return "missing"
    state = str(record.get("properties", {}).get("provisioningState", ""))
    if state not in TERMINAL:
        return "running"
    if state != "Succeeded":
        return "failed"
    tags = record.get("tags") or {}
    return "current" if tags.get(DIGEST_TAG) == digest else "outdated"
