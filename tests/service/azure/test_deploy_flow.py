"""AzureDeployment without click: check, plan, deploy, discover and hand off, step by step."""

from __future__ import annotations

from typing import Any

import pytest

from swarmstack.azure.clients import AzureClients
from swarmstack.azure.deploy import AzureDeployment
from swarmstack.errors import UsageError
from swarmstack.handoff import CloudSsh, HandoffProgress
from swarmstack.provisioners.inventory import Host, SshSettings
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure
from swarmstack.spec import ClusterSpec
from swarmstack.stepgraph import Event

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000 ops@example"
GROUP = "flow-rg"
SPEC = {
    "name": "flow",
    "ssh_public_key": KEY,
    "ssh_cidr": "203.0.113.0/24",
    "manager_size": 1,
    "cluster_size": 1,
    "region": "westeurope",
}


def deployment(clients: AzureClients, **changes: Any) -> AzureDeployment:
    spec = ClusterSpec.model_validate({**SPEC, **changes})
    settings, location = AzureDeployment.check_inputs(
        spec, GROUP, encryption_at_host=False, ssh_bootstrap=True
    )
    return AzureDeployment(clients, spec, settings, GROUP, location)


@pytest.mark.parametrize(
    ("changes", "group", "line"),
    [
        ({"region": "eu-west-1"}, GROUP, "--location=eu-west-1: must be an Azure location"),
        ({"region": None}, GROUP, "--location: required"),
        ({}, "bad/group", "--resource-group=bad/group: must be 1-90 letters"),
        ({"ssh_cidr": None}, GROUP, "--ssh-bootstrap needs ssh_cidr (--ssh-cidr)"),
    ],
)
def test_inputs_are_checked_before_any_call(changes: dict[str, Any], group: str, line: str) -> None:
    spec = ClusterSpec.model_validate({**SPEC, **changes})
    with pytest.raises(UsageError) as error:
        AzureDeployment.check_inputs(spec, group, encryption_at_host=False, ssh_bootstrap=True)
    assert error.value.problems[0].startswith(line)


def test_without_the_ssh_bootstrap_no_ssh_route_is_needed() -> None:
    spec = ClusterSpec.model_validate({**SPEC, "ssh_cidr": None})
    AzureDeployment.check_inputs(spec, GROUP, encryption_at_host=False, ssh_bootstrap=False)


def test_plan_deploy_discover_and_hand_off(
    fake_azure: FakeAzure, clients: AzureClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = deployment(clients)
    plan = flow.plan()
    assert plan.create_group
    assert plan.has_changes
    assert {c.action for c in plan.changes} == {"create"}

    assert plan.deployment == "missing"

    events: list[Event] = []
    outputs = flow.deploy(plan, 0, events.append)
    assert {e.label for e in events} >= {c.label for c in plan.changes}
    assert outputs["keyVaultName"].startswith("swarmkv")
    assert not flow.plan().has_changes  # deployed: a second plan finds nothing to do

    discovery = flow.discover()
    assert sorted(n.role for n in discovery.nodes) == ["manager", "worker"]

    handed: dict[str, Any] = {}

    def record(spec: ClusterSpec, hosts: list[Host], ssh: SshSettings, progress: Any) -> Any:
        handed.update(hosts=hosts, ssh=ssh)
        return {"status": "recorded"}

    monkeypatch.setattr("swarmstack.azure.handoff.bootstrap_hosts", record)
    ssh = CloudSsh(user=None, key=None, known_hosts=None, trust_on_first_use=True)
    assert flow.bootstrap(discovery, ssh, HandoffProgress()) == {"status": "recorded"}
    assert sorted(h.role for h in handed["hosts"]) == ["manager", "worker"]
    assert handed["ssh"].bastion is not None  # reached through the first manager's NAT port
