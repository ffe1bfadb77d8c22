"""`azure destroy` deletes in reverse dependency order; `azure status` reads the cluster."""

from __future__ import annotations

import json

import pytest

from swarmstack.templates.azure.resources import LAYOUT, resource_names
from swarmstack.templates.azure.settings import Names

from ..fake_azure import FakeAzure
from .test_deploy import GROUP, LOCATION, run


def deployed(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(fake, monkeypatch, "deploy", "--location", LOCATION, "--yes", "--no-bootstrap")
    assert result.exit_code == 0, result.output


def test_destroy_deletes_in_reverse_dependency_order(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(fake_azure, monkeypatch)
    fake_azure.log.clear()
    result = run(fake_azure, monkeypatch, "destroy", "--yes")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] is True
    names = resource_names(Names("swarm"))
    log = fake_azure.log
    for key, _, depends_on in LAYOUT:
        for dependency in depends_on:
            # The dependent was gone before its dependency was even asked to go.
            gone = log.index(("deleted", names[key]))
            asked = log.index(("delete requested", names[dependency]))
            assert gone < asked, (key, dependency, log)
    # The group was created by swarmstack and is empty: it goes last.
    assert log[-1] == ("deleted", GROUP)
    assert not fake_azure.resources
    assert GROUP not in fake_azure.groups


def test_destroy_keeps_a_group_it_did_not_create(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(fake_azure, monkeypatch)
    fake_azure.groups[GROUP]["tags"] = {"owner": "platform-team"}
    result = run(fake_azure, monkeypatch, "destroy", "--yes")
    assert result.exit_code == 0, result.output
    assert "keep resource group swarm-rg: swarmstack did not create it" in result.stderr
    assert not fake_azure.resources
    assert GROUP in fake_azure.groups


def test_destroy_needs_confirmation_without_a_terminal(
    fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(fake_azure, monkeypatch)
    result = run(fake_azure, monkeypatch, "destroy")
    assert result.exit_code == 2
    assert "needs confirmation, and stdin is not a terminal" in result.stderr
    assert not [r for r in fake_azure.requests if r.method == "DELETE"]


def test_status_shows_each_resource(fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> None:
    deployed(fake_azure, monkeypatch)
    result = run(fake_azure, monkeypatch, "status")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    states = {row["key"]: row["state"] for row in status["resources"]}
    assert states == dict.fromkeys(resource_names(Names("swarm")), "Succeeded")
    sizes = {row["key"]: row.get("instances") for row in status["resources"]}
    assert sizes["managers"] == 3
    assert sizes["workers"] == 2
    assert status["public_ip"] == "198.18.0.10"
