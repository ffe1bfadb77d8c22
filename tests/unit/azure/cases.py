"""The clusters whose ARM templates are kept as reviewed golden files."""

from __future__ import annotations

from swarmstack.spec import ClusterSpec
from swarmstack.templates.azure import AzureSettings, resolve_settings


def spec(**values: object) -> ClusterSpec:
    """A validated spec (pydantic defaults are invisible to mypy without its plugin)."""
    return ClusterSpec.model_validate(values)


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000 ops@example"


def cases() -> dict[str, AzureSettings]:
    """Golden file name -> settings. Keep each case telling one story."""
    return {
        # Defaults: no SSH ingress at all, the key is a required deployment parameter.
        "default": resolve_settings(spec(), require_ssh_key=False),
        # Everything set: SSH from one network, host encryption, Premium SSD v2 data disks,
        # two zones, custom ports and tags.
        "full": resolve_settings(
            spec(
                name="prod",
                manager_size=5,
                cluster_size=100,
                instance_type="Standard_D4s_v5",
                manager_instance_type="Standard_D2s_v5",
                worker_disk_size=200,
                worker_disk_type="PremiumV2_LRS",
                manager_disk_type="StandardSSD_ZRS",
                ssh_public_key=KEY,
                ssh_cidr="203.0.113.0/24",
                vpc_cidr="10.20.0.0/16",
                default_addr_pool=["10.128.0.0/12"],
                data_path_port=4790,
                published_ports=[443, 8080],
                zones=["1", "2"],
                tags={"team": "platform", "environment": "production"},
            ),
            encryption_at_host=True,
        ),
        # No workers: the managers serve the published ports.
        "managers-only": resolve_settings(
            spec(name="edge", manager_size=1, cluster_size=0, ssh_public_key=KEY)
        ),
        # Shared storage: an NFS share on Azure Files behind a private endpoint.
        "shared-storage": resolve_settings(
            spec(name="data", shared_storage=True), require_ssh_key=False
        ),
    }
