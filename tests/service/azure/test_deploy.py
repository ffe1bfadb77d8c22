"""`swarmstack azure deploy` against the fake Resource Manager, through the real SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from swarmstack.azure.diff import differences
from swarmstack.cli.main import cli
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure
from swarmstack.spec import ClusterSpec, Role
from swarmstack.templates.azure import ConcreteRefs, build_resources, resolve_settings
from swarmstack.templates.azure.customdata import custom_data
from swarmstack.templates.azure.parameters import parameter_values

from .conftest import SUBSCRIPTION, secret_credential

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000 ops@example"
GROUP = "swarm-rg"
LOCATION = "westeurope"
SPEC = {"ssh_public_key": KEY, "ssh_cidr": "203.0.113.0/24", "manager_size": 3, "cluster_size": 2}


def run(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """Run the CLI with the credential swapped for the client-secret flow against the fake.

    Flags in ``args`` after the command win over the SPEC defaults given here.
    """
    monkeypatch.setattr(
        "swarmstack.azure.credentials.default_credential", lambda cloud: secret_credential(fake)
    )
    flags = [
        "--ssh-public-key", KEY, "--ssh-cidr", str(SPEC["ssh_cidr"]),
        "--manager-size", "3", "--cluster-size", "2",
    ] if args[0] == "deploy" else []  # fmt: skip
    return CliRunner().invoke(
        cli,
        ["-o", "json", "azure", args[0], "-g", GROUP, "--subscription", SUBSCRIPTION,
         "--arm-endpoint", fake.base_url, "--poll-interval", "0", *flags, *args[1:]],
    )  # fmt: skip


def expected_resources() -> list[Any]:
    settings = resolve_settings(ClusterSpec.model_validate(SPEC))
    refs = ConcreteRefs(SUBSCRIPTION, GROUP, parameter_values(settings, LOCATION))
    return build_resources(settings, refs)


def test_deploy_creates_every_resource_with_the_expected_body(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["applied"] is True
    assert out["deployment"] == "swarmstack-swarm"
    assert out["swarm"]["status"] == "not waited for"
    assert fake_azure.groups[GROUP]["tags"] == {"swarmstack-cluster": "swarm"}
    settings = resolve_settings(ClusterSpec.model_validate(SPEC))
    for resource in expected_resources():
        puts = fake_azure.puts(resource.name)
        assert len(puts) == 1, resource.name
        assert puts[0].api_version == resource.api_version
        sent = dict(puts[0].body)
        if resource.type.endswith("virtualMachineScaleSets"):
            role: Role = "manager" if resource.key == "managers" else "worker"
            assert sent["properties"]["virtualMachineProfile"]["osProfile"]["customData"] == (
                custom_data(settings, role)
            )
        # The template deployment sends the builder's bodies (ARM expressions evaluated),
        # plus what the self-managing nodes need (identities, the vault's and storage's tags).
        assert differences(resource.body, sent) == [], resource.name
        assert fake_azure.resource(resource.name)["properties"]["provisioningState"] == "Succeeded"
    # What users rely on, read back from the fake rather than from our own builder:
    rules = {
        rule["name"]: rule["properties"]
        for rule in fake_azure.resource("swarm-nsg")["properties"]["securityRules"]
    }
    assert rules["ssh-from-admins"]["sourceAddressPrefix"] == "203.0.113.0/24"
    assert all(
        rule["sourceAddressPrefix"] in ("172.31.0.0/16", "203.0.113.0/24", "VirtualNetwork")
        for name, rule in rules.items()
        if name != "published-ports"
    )
    assert rules["published-ports"]["destinationPortRanges"] == ["80", "443"]
    lb = fake_azure.resource("swarm-lb")["properties"]
    assert [r["properties"]["frontendPort"] for r in lb["loadBalancingRules"]] == [80, 443]
    assert lb["inboundNatRules"][0]["properties"]["backendPort"] == 22
    assert fake_azure.resource("swarm-ip")["sku"]["name"] == "Standard"
    for name, capacity in (("swarm-managers", 3), ("swarm-workers", 2)):
        vmss = fake_azure.resource(name)
        profile = vmss["properties"]["virtualMachineProfile"]
        assert vmss["sku"]["capacity"] == capacity
        assert vmss["zones"] == ["1", "2", "3"]
        assert vmss["identity"]["type"] == "SystemAssigned"
        assert vmss["identity"]["principalId"]  # given by Resource Manager, as in Azure
        assert profile["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"] is True
        assert profile["storageProfile"]["dataDisks"][0]["diskSizeGB"] == 20
        assert profile["diagnosticsProfile"]["bootDiagnostics"]["enabled"] is True
        assert "customData" not in profile["osProfile"]  # write-only, as in Azure
    # The real client-secret flow asked for a token for this Resource Manager.
    assert fake_azure.token_requests
    assert fake_azure.token_requests[0]["scope"] == [f"{fake_azure.base_url}/.default"]
    managers = [n for n in out["nodes"] if n["role"] == "manager"]
    workers = [n for n in out["nodes"] if n["role"] == "worker"]
    assert [(m["ssh_host"], m["ssh_port"]) for m in managers] == [
        ("198.18.0.10", 50000), ("198.18.0.10", 50001), ("198.18.0.10", 50002)
    ]  # fmt: skip
    assert sorted(m["zone"] for m in managers) == ["1", "2", "3"]
    assert len(workers) == 2
    assert all(w["ssh_port"] is None and w["private_ip"].startswith("172.31.") for w in workers)
    assert out["public_ip"] == "198.18.0.10"


def test_a_second_deploy_plans_no_change(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert first.exit_code == 0, first.output
    puts_before = len([r for r in fake_azure.requests if r.method == "PUT"])
    second = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--no-wait")
    assert second.exit_code == 0, second.output  # no --yes needed: nothing to confirm
    out = json.loads(second.stdout)
    assert out["applied"] is False
    assert out["plan"]["resource_group"]["action"] == "no change"
    assert {r["action"] for r in out["plan"]["resources"]} == {"no change"}
    assert out["plan"]["deployment"] == "current"
    assert len([r for r in fake_azure.requests if r.method == "PUT"]) == puts_before
    assert "no changes" in second.stderr


# The keys earlier builds wrote as `swarmstack:...` (later keys, such as the prune tag the
# node agent reads, never had that spelling).
LEGACY_KEYS = ("swarmstack-cluster", "swarmstack-role", "swarmstack-custom-data-sha256")


def retag_as_legacy(fake: FakeAzure) -> None:
    """Make a deployment look like one an earlier build made (tag keys `swarmstack:...`)."""
    for body in [*fake.resources.values(), *fake.groups.values()]:
        tags = body.get("tags") or {}
        body["tags"] = {
            key.replace("swarmstack-", "swarmstack:") if key in LEGACY_KEYS else key: value
            for key, value in tags.items()
        }


def test_a_deploy_over_a_legacy_tagged_cluster_adopts_it_and_writes_the_new_key(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert first.exit_code == 0, first.output
    retag_as_legacy(fake_azure)
    second = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert second.exit_code == 0, second.output
    changes = json.loads(second.stdout)["plan"]["resources"]
    # Recognised as ours; the only differences are the tag keys, rewritten in the new spelling.
    assert {c["action"] for c in changes} == {"update"}
    assert {tuple(c["differences"]) for c in changes} == {
        ("tags.swarmstack-cluster",),
        ("tags.swarmstack-cluster", "tags.swarmstack-role", "tags.swarmstack-custom-data-sha256"),
    }
    for resource in expected_resources():
        body = fake_azure.resource(resource.name)
        assert body["tags"]["swarmstack-cluster"] == "swarm"
        assert not [key for key in body["tags"] if key.startswith("swarmstack:")]


def test_a_scale_change_updates_only_the_workers(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert first.exit_code == 0, first.output
    scaled = run(
        fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait",
        "--cluster-size", "4",
    )  # fmt: skip
    assert scaled.exit_code == 0, scaled.output
    out = json.loads(scaled.stdout)
    actions = {r["key"]: (r["action"], r.get("differences")) for r in out["plan"]["resources"]}
    assert actions["workers"] == ("update", ["sku.capacity"])
    assert {key for key, (action, _) in actions.items() if action != "no change"} == {"workers"}
    assert fake_azure.resource("swarm-workers")["sku"]["capacity"] == 4
    assert len([n for n in out["nodes"] if n["role"] == "worker"]) == 4


def test_scaling_in_says_the_node_agents_drain_the_leaving_nodes(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait")
    assert first.exit_code == 0, first.output
    smaller = run(
        fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait",
        "--cluster-size", "1",
    )  # fmt: skip
    assert smaller.exit_code == 0, smaller.output
    workers = next(
        r for r in json.loads(smaller.stdout)["plan"]["resources"] if r["key"] == "workers"
    )
    assert workers["capacity"] == {"from": 2, "to": 1}
    assert "workers (swarm-workers) scales in: the node agents drain" in smaller.stderr
    assert "warning" not in smaller.stderr


def test_a_dry_run_shows_the_plan_and_changes_nothing(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--dry-run")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["resource_group"]["action"] == "create"
    assert {r["action"] for r in plan["resources"]} == {"create"}
    assert not [r for r in fake_azure.requests if r.method != "GET"]
    assert "+ create     managers (swarm-managers)" in result.stderr


def test_deploy_creates_the_shared_storage_the_template_describes(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(
        fake_azure, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-wait",
        "--shared-storage",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    accounts = [
        body
        for body in fake_azure.resources.values()
        if body.get("type") == "Microsoft.Storage/storageAccounts"
        and body.get("kind") == "FileStorage"
    ]
    assert len(accounts) == 1
    assert accounts[0]["properties"]["publicNetworkAccess"] == "Disabled"
    shares = [
        rid for rid in fake_azure.resources if rid.endswith("/fileservices/default/shares/volumes")
    ]
    assert len(shares) == 1
