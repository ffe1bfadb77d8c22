"""`swarmstack local up --cloud azure`: the cluster's ARM template deployed on the simulated
Azure, and a machine per scale-set instance running the template's custom data.

    result = local.up(spec, name="try", progress=print)   # servers + controller, the deployment
    local.wait_for_instances(name, timeout=300)           # every instance has a booted machine
    local.status(name)                                    # endpoints, instances, machines

The deployment is a plain one - the resource group, then a template deployment of
`swarmstack azure template`'s output through the Azure SDK, as a user would make it - so the
nodes form their swarm themselves; nothing here talks to them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .....errors import LocalProviderError
from .....spec import ClusterSpec
from ... import keys
from ...cluster import check_name
from ...run import require_root
from ..control import (
    SimFiles,
    instances,
    machine_spec,
    wait_for_machines,
)
from ..environment import environment
from ..local_cluster import check_name_for, open_machines
from .control import AzureUrls, running_urls, start_service
from .world import CLIENT_ID, CLIENT_SECRET, LOCATION, SUBSCRIPTION, TENANT

if TYPE_CHECKING:
    from .....azure.clients import AzureClients

Progress = Callable[[str], None]
DEPLOYMENT = "swarmstack"
# What to put in the environment to drive the simulation with the SDK or az (not secrets:
# the simulation's own fake client); also what `local up` prints.
_CLEARED = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


def _quiet(_message: str) -> None:
    pass


def sim_environment(urls: AzureUrls) -> dict[str, str]:
    return {
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "AZURE_AUTHORITY_HOST": urls.arm,
        "REQUESTS_CA_BUNDLE": urls.ca_bundle,
    }


def sim_azure_environment(urls: AzureUrls) -> contextlib.AbstractContextManager[None]:
    """The simulation's client and CA in this process's environment for the duration, and
    no proxy between it and the bridge."""
    values = {**sim_environment(urls), "NO_PROXY": urls.arm.split("//")[1].split(":")[0]}
    return environment(values, _CLEARED)


@contextlib.contextmanager
def sim_clients(urls: AzureUrls) -> Iterator[AzureClients]:
    """swarmstack's Azure clients against the simulation (its fake client, the CA of its
    endpoint), with the simulation's environment set while they are used."""
    from azure.identity import ClientSecretCredential

    from .....azure.clients import connect
    from .....azure.credentials import AzureCloud

    with sim_azure_environment(urls):
        credential = ClientSecretCredential(
            TENANT,
            CLIENT_ID,
            CLIENT_SECRET,
            authority=urls.arm,
            disable_instance_discovery=True,
            connection_verify=urls.ca_bundle,
        )
        clients = connect(credential, SUBSCRIPTION, AzureCloud(urls.arm), poll_seconds=0)
        try:
            yield clients
        finally:
            clients.close()


@dataclass(frozen=True)
class AzureSimResult:
    cluster: str
    resource_group: str
    deployment: str
    urls: AzureUrls
    outputs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "cloud": "azure",
            "resource_group": self.resource_group,
            "deployment": self.deployment,
            "arm_endpoint": self.urls.arm,
            "ca_bundle": self.urls.ca_bundle,
            "metadata_endpoint": self.urls.imds,
            "outputs": {k: v.get("value") for k, v in self.outputs.items()},
        }


def up(spec: ClusterSpec, *, name: str = "local", progress: Progress = _quiet) -> AzureSimResult:
    """Start the cluster's simulated Azure (once) and deploy the spec's template (once)."""
    check_name(name)
    spec = machine_spec(spec, progress)
    require_root("swarmstack local up --cloud azure")
    check_name_for(name, "azure")
    cluster = open_machines(name, progress)
    progress(f"starting the simulated Azure on {cluster.gateway}")
    urls = start_service(name, cluster.gateway)
    key_text = keys.ensure_key_pair(cluster.ssh_key_path, f"swarmstack-local-{name}")
    outputs = deploy_template(spec, urls, spec.name, key_text, progress)
    return AzureSimResult(name, spec.name, DEPLOYMENT, urls, outputs)


def deploy_template(
    spec: ClusterSpec, urls: AzureUrls, group: str, ssh_key: str, progress: Progress
) -> dict[str, Any]:
    """`az group create` + `az deployment group create` of the spec's template, through the
    SDK (the same REST calls as az, through swarmstack's TemplateDeployment); returns the
    deployment's outputs."""
    from .....azure.template_deployment import TemplateDeployment
    from .....templates.azure import resolve_settings
    from .....templates.azure.arm import arm_template

    settings = resolve_settings(spec, require_ssh_key=False)
    template = arm_template(settings)
    wanted = ssh_key and "sshPublicKey" in template["parameters"]
    parameters = {"sshPublicKey": ssh_key} if wanted else {}
    with sim_clients(urls) as clients:
        deployment = TemplateDeployment(clients, group, DEPLOYMENT)
        if clients.resources.resource_groups.check_existence(group):
            existing = deployment.get()
            if existing is None:
                raise LocalProviderError(
                    f"resource group {group} exists on the simulated Azure without deployment "
                    f"{DEPLOYMENT}"
                )
            progress(f"resource group {group} exists; deployment {DEPLOYMENT} kept")
            return dict(existing["properties"].get("outputs") or {})
        clients.resources.resource_groups.create_or_update(group, {"location": LOCATION})
        progress(f"deploying the ARM template of {spec.name} into resource group {group}")
        deployment.start(template, parameters, {})
        record = deployment.watch(1.0, lambda _event: None)
        state = record["properties"]["provisioningState"]
        if state != "Succeeded":
            failure = deployment.failure(record)
            raise LocalProviderError(
                f"deployment {DEPLOYMENT} on the simulated Azure is {state}", *failure.problems
            )
    progress(f"deployment {DEPLOYMENT}: {state}")
    return dict(record["properties"].get("outputs") or {})


def wait_for_instances(name: str, *, timeout: float = 300.0, progress: Progress = _quiet) -> None:
    """Until every instance of the scale sets has a booted machine (SSH answers)."""
    wait_for_machines(
        name, "Azure", lambda row: row["vm_state"] != "gone", timeout=timeout, progress=progress
    )


def status(name: str) -> dict[str, Any]:
    files = SimFiles.of(name)
    urls = running_urls(files)
    return {
        "cloud": "azure",
        "running": urls is not None,
        "arm_endpoint": urls.arm if urls else None,
        "ca_bundle": urls.ca_bundle if urls else None,
        "metadata_endpoint": urls.imds if urls else None,
        "log": str(files.log),
        "instances": instances(files),
    }
