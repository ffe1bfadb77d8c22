"""The Azure adapter's pure parts: Azure's JSON shapes -> the agent's facts, and the bodies it
sends (load balancer with and without a service port, the security rule)."""

from __future__ import annotations

import json
from typing import Any

from swarmstack.provisioners.nodeagent import decisions as d
from swarmstack.provisioners.nodeagent.azure import Metadata
from swarmstack.provisioners.nodeagent.azure_shapes import (
    LeavingNotice,
    instances_of,
    leaving_events,
    parse_leaving,
    service_rules,
    service_security_rule,
    with_port,
    without_port,
)

VMSS = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets"
LB = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/swarm-lb"


def event(kind: str, *names: str, status: str = "Scheduled") -> dict[str, Any]:
    return {
        "EventId": kind + "-1",
        "EventType": kind,
        "Resources": list(names),
        "EventStatus": status,
    }


def test_only_terminate_and_preempt_events_naming_this_instance_count() -> None:
    events = [
        event("Reboot", "swarm-workers_1"),
        event("Terminate", "swarm-workers_2"),
        event("Terminate", "swarm-workers_1", "swarm-workers_3"),
        event("Preempt", "_swarm-workers_1"),
        event("Terminate", "swarm-workers_1", status="Started"),  # already going
    ]
    assert [e["EventType"] for e in leaving_events(events, "swarm-workers_1")] == [
        "Terminate",
        "Preempt",
    ]


def test_instances_get_their_primary_private_address_from_the_scale_sets_nics() -> None:
    vms = [
        {"id": f"{VMSS}/swarm-workers/virtualMachines/0", "name": "swarm-workers_0", "zones": ["2"],
         "properties": {"provisioningState": "Succeeded"}},
        {"id": f"{VMSS}/swarm-workers/virtualMachines/1", "name": "swarm-workers_1",
         "properties": {"provisioningState": "Deleting"}},
    ]  # fmt: skip
    nics = [
        {"properties": {"virtualMachine": {"id": f"{VMSS}/SWARM-WORKERS/virtualMachines/0"},
                        "ipConfigurations": [{"properties": {"primary": True,
                                                             "privateIPAddress": "10.0.1.4"}}]}},
    ]  # fmt: skip
    assert instances_of("worker", vms, nics) == [
        d.Instance("swarm-workers_0", "10.0.1.4", "2", "worker", "running"),
        d.Instance("swarm-workers_1", "", "regional", "worker", "shutting-down"),
    ]


def test_a_leaving_notice_is_a_termination_until_it_is_done() -> None:
    body = {"event": "E1", "instance": "swarm-workers_1", "group": "swarm-workers"}
    notice = parse_leaving("swarm-workers_1", json.dumps(body))
    assert isinstance(notice, LeavingNotice)
    assert notice.is_termination
    assert (notice.instance_id, notice.token, notice.receipt) == (
        "swarm-workers_1",
        "E1",
        "swarm-workers_1",
    )
    assert parse_leaving("x", json.dumps({**body, "done": True})) is None
    junk = parse_leaving("x", "not json")
    assert junk is not None
    assert not junk.is_termination
    assert d.leaving_step(junk, None, []) == "discard"


def balancer() -> dict[str, Any]:
    return {
        "id": LB,
        "properties": {
            "frontendIPConfigurations": [{"name": "public"}],
            "probes": [{"name": "tcp-80"}],
            "loadBalancingRules": [{"name": "tcp-80"}],
        },
    }


def test_a_service_port_adds_a_rule_and_probe_and_removing_it_restores_the_balancer() -> None:
    original = balancer()
    opened = with_port(original, 8080, "apps")
    assert original == balancer()  # not changed in place
    rule = opened["properties"]["loadBalancingRules"][-1]
    assert rule["name"] == "svc-8080"
    assert rule["properties"]["probe"] == {"id": f"{LB}/probes/svc-8080"}
    assert rule["properties"]["backendAddressPool"] == {"id": f"{LB}/backendAddressPools/apps"}
    assert rule["properties"]["frontendIPConfiguration"] == {
        "id": f"{LB}/frontendIPConfigurations/public"
    }
    assert service_rules(opened) == {8080: ("svc-8080", "svc-8080")}  # tcp-80 is the spec's
    assert with_port(opened, 8080, "apps") == opened  # idempotent
    assert without_port(opened, 8080) == original


def test_security_rule_takes_the_first_free_priority_and_is_not_added_twice() -> None:
    nsg = {"properties": {"securityRules": [
        {"name": "a", "properties": {"priority": 1000}},
        {"name": "svc-443", "properties": {"priority": 1001}},
    ]}}  # fmt: skip
    rule = service_security_rule(nsg, 8080)
    assert rule is not None
    assert rule["properties"]["priority"] == 1002
    assert rule["properties"]["destinationPortRange"] == "8080"
    assert service_security_rule(nsg, 443) is None


def test_metadata_answers_the_loops_aws_shaped_questions_from_azures_document() -> None:
    metadata = Metadata("http://127.0.0.1:9", "http://127.0.0.1:9")
    metadata._instance = {
        "compute": {
            "name": "swarm-managers_4",
            "location": "westeurope",
            "zone": "",
            "tagsList": [
                {"name": "swarmstack-cluster", "value": "swarm"},
                {"name": "swarmstack-role", "value": "manager"},
                {"name": "swarmstack-system-prune", "value": "yes"},
            ],
        },
        "network": {"interface": [{"ipv4": {"ipAddress": [{"privateIpAddress": "10.0.0.9"}]}}]},
    }
    assert metadata.get("meta-data/instance-id") == "swarm-managers_4"
    assert metadata.get("meta-data/tags/instance/swarmstack-cluster") == "swarm"
    assert metadata.get("meta-data/tags/instance/swarmstack-role") == "manager"
    assert metadata.get("meta-data/tags/instance/swarmstack-system-prune") == "yes"
    assert metadata.get("meta-data/tags/instance/swarmstack-log-group") is None
    assert metadata.get("meta-data/placement/availability-zone") == "regional"
    assert metadata.get("meta-data/placement/region") == "westeurope"
    assert metadata.get("meta-data/local-ipv4") == "10.0.0.9"
