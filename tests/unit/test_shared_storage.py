"""Shared storage (issue 14): the spec flag, the EFS resources of the AWS template, the Azure
Files resources of the ARM template, and the --mount value `volume mount-string` prints.
"""

from __future__ import annotations

import csv
import json
import shlex
from typing import Any

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.cloudinit.render import render_user_data
from swarmstack.errors import ExitCode, SpecError, UsageError
from swarmstack.spec import ClusterSpec
from swarmstack.templates.aws import build_template
from swarmstack.templates.azure import arm_template, resolve_settings
from swarmstack.volumes import (
    EFS_OPTIONS,
    NfsExport,
    azure_files_export,
    efs_export,
    mount_value,
    prepare_command,
)

EXISTING = {
    "existing_vpc_id": "vpc-0123456789abcdef0",
    "existing_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
}


def _aws(**values: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(build_template(ClusterSpec.model_validate(values)).to_json())
    return body


def _cloudstor(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body["Resources"].items() if k.startswith("CloudStor")}


# --- spec -----------------------------------------------------------------------------------


def test_shared_storage_is_off_by_default_and_leaves_the_template_alone() -> None:
    body = _aws()
    assert ClusterSpec.model_validate({}).shared_storage is False
    assert _cloudstor(body) == {}
    assert "EnableCloudStorEfs" not in body["Parameters"]


def test_flag_and_environment_variable_turn_it_on() -> None:
    for args, env in (
        (["--shared-storage"], {}),
        ([], {"SWARMSTACK_SHARED_STORAGE": "true"}),
    ):
        # Over the inline limit with storage: written for S3, as launch-stack uploads it.
        result = CliRunner().invoke(cli, ["aws", "template", "--for-s3", *args], env=env)
        assert result.exit_code == 0, result.output
        assert "CloudStorEfsFileSystem" in json.loads(result.stdout)["Resources"]


def test_local_up_refuses_the_flag_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["local", "up", "--shared-storage"])
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "error: --shared-storage=true: not used by `local up`: it creates no file system; mount "
        "your own NFS server with the stock local volume driver (README, Persistent volumes)"
    ]


def test_nodes_get_the_nfs_client_only_with_shared_storage() -> None:
    on = render_user_data(ClusterSpec.model_validate({"shared_storage": True}), "worker", "aws")
    off = render_user_data(ClusterSpec.model_validate({}), "worker", "aws")
    assert "nfs-common" in on
    assert "nfs-common" not in off


# --- AWS template ---------------------------------------------------------------------------


def test_file_system_is_encrypted_backed_up_and_retained_under_the_parameter() -> None:
    body = _aws(shared_storage=True)
    assert body["Parameters"]["EnableCloudStorEfs"]["Default"] == "yes"
    assert body["Conditions"]["CloudStorEfsOn"] == {
        "Fn::Equals": [{"Ref": "EnableCloudStorEfs"}, "yes"]
    }
    file_system = body["Resources"]["CloudStorEfsFileSystem"]
    assert file_system["Condition"] == "CloudStorEfsOn"
    assert file_system["DeletionPolicy"] == file_system["UpdateReplacePolicy"] == "Retain"
    assert file_system["Properties"]["Encrypted"] is True
    assert file_system["Properties"]["BackupPolicy"] == {"Status": "ENABLED"}
    for name, resource in _cloudstor(body).items():
        assert resource["Condition"].startswith("CloudStorEfs"), name


def test_nfs_is_admitted_only_from_the_node_security_group() -> None:
    resources = _aws(shared_storage=True)["Resources"]
    ingress = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"]["GroupId"] == {"Fn::GetAtt": ["CloudStorEfsSecurityGroup", "GroupId"]}
    ]
    assert ingress == [
        {
            "GroupId": {"Fn::GetAtt": ["CloudStorEfsSecurityGroup", "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": 2049,
            "ToPort": 2049,
            "Description": "NFS from swarm nodes (service volumes on EFS)",
        }
    ]
    group = resources["CloudStorEfsSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert [rule["CidrIp"] for rule in group["SecurityGroupEgress"]] == ["127.0.0.1/32"]


def test_a_mount_target_per_subnet_of_a_new_or_an_existing_vpc() -> None:
    body = _aws(shared_storage=True, **EXISTING)
    targets = {k: v for k, v in body["Resources"].items() if v["Type"] == "AWS::EFS::MountTarget"}
    assert sorted(targets) == [f"CloudStorEfsMountTarget{n}" for n in (1, 2, 3)]
    for number, target in enumerate(sorted(targets), start=1):
        properties = targets[target]["Properties"]
        new_vpc, existing = properties["SubnetId"]["Fn::If"][1:]
        assert properties["SubnetId"]["Fn::If"][0] == "NewVpc"
        assert new_vpc == {"Ref": f"PublicSubnet{number}"}
        assert existing["Fn::Select"][0] == number - 1
        condition = body["Conditions"][targets[target]["Condition"]]
        # Only with EFS on, and only for a subnet that exists (third: ThirdSubnet or given).
        assert condition["Fn::And"][0] == {"Condition": "CloudStorEfsOn"}
        new_vpc_condition = "ThirdSubnet" if number == 3 else "NewVpc"
        assert condition["Fn::And"][1]["Fn::Or"][0] == {"Condition": new_vpc_condition}


def test_more_than_three_existing_subnets_are_refused_with_shared_storage() -> None:
    subnets = [f"subnet-0123456789abcde{n}" for n in range(4)]
    with pytest.raises(SpecError, match="with shared_storage at most 3 subnets"):
        build_template(
            ClusterSpec.model_validate(
                {
                    "shared_storage": True,
                    "existing_vpc_id": EXISTING["existing_vpc_id"],
                    "existing_subnet_ids": subnets,
                }
            )
        )


# --- Azure ARM template ---------------------------------------------------------------------


def _arm(**values: Any) -> dict[str, Any]:
    spec = ClusterSpec.model_validate(values)
    return arm_template(resolve_settings(spec, require_ssh_key=False))


def test_azure_nfs_share_is_private_to_the_virtual_network() -> None:
    template = _arm(name="data", shared_storage=True)
    by_type = {r["type"]: r for r in template["resources"]}
    # The self-managing swarm has a storage account of its own (claims); the NFS one is this.
    [account] = [r for r in template["resources"] if r.get("kind") == "FileStorage"]
    assert account["sku"]["name"] == "Premium_LRS"
    assert account["properties"]["publicNetworkAccess"] == "Disabled"
    assert account["properties"]["networkAcls"]["defaultAction"] == "Deny"
    assert account["properties"]["allowSharedKeyAccess"] is False
    share = by_type["Microsoft.Storage/storageAccounts/fileServices/shares"]
    assert share["properties"]["enabledProtocols"] == "NFS"
    endpoint = by_type["Microsoft.Network/privateEndpoints"]["properties"]
    assert endpoint["subnet"]["id"].endswith("'data-vnet', 'nodes')]")
    assert endpoint["privateLinkServiceConnections"][0]["properties"]["groupIds"] == ["file"]
    assert "Microsoft.Network/privateDnsZones/virtualNetworkLinks" in by_type
    assert set(template["outputs"]) >= {"volumesNfsServer", "volumesNfsPath"}


def test_azure_without_shared_storage_has_no_storage_resources() -> None:
    resources = _arm()["resources"]
    assert not any(r.get("kind") == "FileStorage" for r in resources)
    types = {r["type"] for r in resources}
    assert not any("fileServices" in t or "private" in t for t in types)


# --- the --mount value ----------------------------------------------------------------------

EFS = NfsExport("fs-0123abcd.efs.eu-west-1.amazonaws.com", "/", EFS_OPTIONS)


def test_mount_value_parses_as_docker_reads_it() -> None:
    value = mount_value(EFS, "pgdata", "/var/lib/postgresql/data")
    [fields] = list(csv.reader([value]))
    assert fields == [
        "type=volume",
        "source=pgdata",
        "target=/var/lib/postgresql/data",
        "volume-driver=local",
        # type nfs, not nfs4: docker resolves a host name in addr= only for nfs.
        "volume-opt=type=nfs",
        "volume-opt=device=:/pgdata",
        f"volume-opt=o=addr=fs-0123abcd.efs.eu-west-1.amazonaws.com,{EFS_OPTIONS}",
    ]
    assert "nfsvers=4.1" in EFS_OPTIONS


def test_prepare_command_creates_the_directory_on_the_export_root() -> None:
    argv = shlex.split(prepare_command(EFS, "pgdata"))
    assert argv[:4] == ["docker", "run", "--rm", "--mount"]
    [root_fields] = list(csv.reader([argv[4]]))
    assert "volume-opt=device=:/" in root_fields
    assert argv[-3:] == ["mkdir", "-p", "/share/pgdata"]


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".hidden", "-x", "a,b", 'a"b', "x" * 129])
def test_volume_names_that_would_escape_or_break_the_value_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="VOLUME="):
        mount_value(EFS, name)


@pytest.mark.parametrize("target", ["data", "/a,b", '/a"b'])
def test_targets_that_would_break_the_value_are_refused(target: str) -> None:
    with pytest.raises(UsageError, match="--target="):
        mount_value(EFS, "db", target)


def test_cli_refuses_a_bad_volume_name_in_one_line_before_any_cloud_call() -> None:
    result = CliRunner().invoke(cli, ["volume", "mount-string", "../x"])
    assert result.exit_code == ExitCode.USAGE
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: VOLUME='../x': must be")


def test_efs_export_needs_the_stack_output() -> None:
    assert efs_export("prod", {"CloudStorEfsDnsName": EFS.server}) == EFS
    with pytest.raises(UsageError, match="stack prod has no shared storage"):
        efs_export("prod", {"VpcId": "vpc-1"})


def test_azure_files_export_takes_the_server_from_the_file_endpoint() -> None:
    account = {
        "name": "swarmvolabc",
        "properties": {"primaryEndpoints": {"file": "https://swarmvolabc.file.core.windows.net/"}},
    }
    export = azure_files_export(account, "volumes")
    assert export.server == "swarmvolabc.file.core.windows.net"
    assert export.root == "/swarmvolabc/volumes"
    [raw] = list(csv.reader([mount_value(export, "db")]))
    assert "volume-opt=device=:/swarmvolabc/volumes/db" in raw


# --- finding the Azure storage account ------------------------------------------------------


class _FakeResources:
    """The two generic-resource calls find_volumes_account makes, over fixed bodies."""

    def __init__(self, listed: list[dict[str, Any]], bodies: dict[str, dict[str, Any]]) -> None:
        self.listed, self.bodies = listed, bodies
        self.filters: list[str] = []

    def list_by_resource_group(self, group: str, filter: str) -> list[dict[str, Any]]:
        self.filters.append(filter)
        return self.listed

    # Keyword-only, as in azure-mgmt-resource: a positional api_version is a TypeError there.
    def get_by_id(self, resource_id: str, *, api_version: str) -> dict[str, Any]:
        return self.bodies[resource_id]


def _clients(resources: _FakeResources) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(resources=SimpleNamespace(resources=resources))


def test_the_cluster_storage_account_is_found_by_prefix_and_cluster_tag() -> None:
    from swarmstack.azure.volumes import find_volumes_account

    ours = {"id": "/sub/ours", "name": "swarmvolaaa", "tags": {"swarmstack-cluster": "data"}}
    other_cluster = {"id": "/sub/x", "name": "swarmvolbbb", "tags": {"swarmstack-cluster": "x"}}
    not_ours = {"id": "/sub/y", "name": "backups", "tags": {"swarmstack-cluster": "data"}}
    body = {"name": "swarmvolaaa", "properties": {"primaryEndpoints": {"file": "https://h/"}}}
    resources = _FakeResources([other_cluster, not_ours, ours], {"/sub/ours": body})

    assert find_volumes_account(_clients(resources), "rg", "data") == body
    assert resources.filters == ["resourceType eq 'Microsoft.Storage/storageAccounts'"]


def test_a_group_without_the_account_is_a_one_line_error() -> None:
    from swarmstack.azure.volumes import find_volumes_account
    from swarmstack.errors import AzureClusterNotFound

    with pytest.raises(AzureClusterNotFound, match="cluster data in resource group rg has no"):
        find_volumes_account(_clients(_FakeResources([], {})), "rg", "data")
