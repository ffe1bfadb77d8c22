"""`swarmstack azure`: the Azure deployment and its lifecycle (one command per module)."""

from __future__ import annotations

import click

from .azure_deploy import deploy_command
from .azure_destroy import destroy_command
from .azure_status import status_command
from .azure_template import template_command


@click.group("azure")
def azure_group() -> None:
    """Docker swarm on Azure with scale sets (deploy, template, status, destroy).

    \b
    Credentials: DefaultAzureCredential (az login, AZURE_CLIENT_ID/AZURE_TENANT_ID/
    AZURE_CLIENT_SECRET, workload or managed identity). Subscription: --subscription or
    AZURE_SUBSCRIPTION_ID. Custom clouds: --arm-endpoint plus AZURE_AUTHORITY_HOST;
    private CAs: REQUESTS_CA_BUNDLE. Location: --location (the spec's `region` key).
    """


for _command in (template_command, deploy_command, status_command, destroy_command):
    azure_group.add_command(_command)
