"""Azure's reading of the spec: defaults, and one-line errors naming the parameter."""

from __future__ import annotations

import pytest

from swarmstack.errors import SpecError
from swarmstack.templates.azure import ConcreteRefs, build_resources, resolve_settings
from swarmstack.templates.azure.parameters import parameter_values

from .cases import KEY, spec


def test_unset_sizes_and_disks_resolve_to_azure_defaults() -> None:
    settings = resolve_settings(spec(ssh_public_key=KEY))
    assert (settings.manager_vm_size, settings.worker_vm_size) == ("Standard_D2s_v5",) * 2
    assert (settings.manager_disk_type, settings.worker_disk_type) == ("Premium_LRS",) * 2
    assert settings.zones == ("1", "2", "3")


def test_aws_shaped_values_are_rejected_naming_each_parameter() -> None:
    cluster = spec(
        ssh_public_key=KEY,
        instance_type="m7i.large",
        manager_instance_type="t3.medium",
        worker_disk_type="gp3",
        zones=["eu-west-1a"],
    )
    with pytest.raises(SpecError) as caught:
        resolve_settings(cluster)
    problems = caught.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("manager_instance_type=t3.medium: must be an Azure VM size")
    assert problems[1].startswith("instance_type=m7i.large: must be an Azure VM size")
    assert problems[2].startswith("worker_disk_type=gp3: must be an Azure disk SKU")
    assert problems[3].startswith("zones=eu-west-1a: must be Azure availability zones")


def test_an_ssh_key_is_required_to_deploy_but_not_for_the_template() -> None:
    with pytest.raises(SpecError, match="ssh_public_key=null: must be set on Azure"):
        resolve_settings(spec())
    assert resolve_settings(spec(), require_ssh_key=False).ssh_public_key is None


def test_a_network_too_small_for_the_nodes_is_rejected() -> None:
    cluster = spec(ssh_public_key=KEY, vpc_cidr="192.168.0.0/26", cluster_size=100, manager_size=3)
    with pytest.raises(SpecError, match=r"vpc_cidr=192.168.0.0/26: has 59 usable addresses"):
        resolve_settings(cluster)


def test_existing_networks_are_refused_clearly() -> None:
    subnet = (
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
    )
    with pytest.raises(SpecError, match=r"existing_subnet_ids=.*not supported on Azure yet"):
        resolve_settings(spec(ssh_public_key=KEY, existing_subnet_ids=[subnet]))


def test_premium_v2_data_disks_get_a_premium_os_disk() -> None:
    settings = resolve_settings(spec(ssh_public_key=KEY, worker_disk_type="PremiumV2_LRS"))
    refs = ConcreteRefs("sub", "rg", parameter_values(settings, "westeurope"))
    workers = {r.key: r for r in build_resources(settings, refs)}["workers"]
    storage = workers.body["properties"]["virtualMachineProfile"]["storageProfile"]
    assert storage["osDisk"]["managedDisk"]["storageAccountType"] == "Premium_LRS"
    assert storage["dataDisks"][0]["managedDisk"]["storageAccountType"] == "PremiumV2_LRS"


def test_concrete_bodies_hold_real_ids_and_values() -> None:
    settings = resolve_settings(spec(ssh_public_key=KEY, ssh_cidr="198.51.100.0/24"))
    refs = ConcreteRefs("sub-1", "rg-1", parameter_values(settings, "westeurope"))
    by_key = {r.key: r for r in build_resources(settings, refs)}
    vnet = by_key["vnet"].body
    assert vnet["location"] == "westeurope"
    assert vnet["properties"]["subnets"][0]["properties"]["networkSecurityGroup"]["id"] == (
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/"
        "networkSecurityGroups/swarm-nsg"
    )
    rules = by_key["nsg"].body["properties"]["securityRules"]
    ssh = next(rule for rule in rules if rule["name"] == "ssh-from-admins")
    assert ssh["properties"]["sourceAddressPrefix"] == "198.51.100.0/24"
    managers = by_key["managers"].body
    assert managers["sku"]["capacity"] == 3
    profile = managers["properties"]["virtualMachineProfile"]["osProfile"]
    assert profile["linuxConfiguration"]["ssh"]["publicKeys"] == [
        {"path": "/home/docker/.ssh/authorized_keys", "keyData": KEY}
    ]
    text = str([r.body for r in by_key.values()])
    assert "[parameters(" not in text
    assert "[resourceId(" not in text
