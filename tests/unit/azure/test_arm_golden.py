"""The ARM template against reviewed golden files (tests/unit/golden/azure/).

After an intended change, regenerate with SWARMSTACK_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli
from swarmstack.templates.azure import arm_template
from swarmstack.templates.azure.arm import to_json

from .cases import cases

GOLDEN = Path(__file__).parent.parent / "golden" / "azure"
REGENERATE = os.environ.get("SWARMSTACK_REGEN_GOLDEN") == "1"


@pytest.mark.parametrize("name", sorted(cases()))
def test_template_matches_golden_file(name: str) -> None:
    text = to_json(arm_template(cases()[name]))
    path = GOLDEN / f"{name}.json"
    if REGENERATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with SWARMSTACK_REGEN_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name}: the template changed; if intended, regenerate with SWARMSTACK_REGEN_GOLDEN=1 "
        "and review the diff"
    )


def test_cli_template_writes_the_same_template(tmp_path: Path) -> None:
    out = tmp_path / "swarm.json"
    result = CliRunner().invoke(cli, ["azure", "template", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == (GOLDEN / "default.json").read_text(encoding="utf-8")


def test_template_parameters_carry_the_allowed_values() -> None:
    parameters = json.loads((GOLDEN / "default.json").read_text())["parameters"]
    assert parameters["managerCount"]["allowedValues"] == [1, 3, 5, 7]
    assert (parameters["workerCount"]["minValue"], parameters["workerCount"]["maxValue"]) == (
        0,
        1000,
    )
    assert "defaultValue" not in parameters["sshPublicKey"]  # required when the spec has none
    assert parameters["location"]["defaultValue"] == "[resourceGroup().location]"
    assert "Premium_LRS" in parameters["workerDiskType"]["allowedValues"]
    assert "gp3" not in parameters["workerDiskType"]["allowedValues"]


def test_default_template_opens_no_ssh_to_the_outside() -> None:
    template = json.loads((GOLDEN / "default.json").read_text())
    nsg = next(r for r in template["resources"] if r["type"].endswith("networkSecurityGroups"))
    rules = {rule["name"]: rule["properties"] for rule in nsg["properties"]["securityRules"]}
    assert "ssh-from-admins" not in rules
    assert rules["ssh-from-vnet"]["sourceAddressPrefix"] == "172.31.0.0/16"
    assert rules["swarm-tcp-from-vnet"]["destinationPortRanges"] == ["2377", "7946"]
    assert rules["deny-other-from-vnet"]["access"] == "Deny"
    assert "sshSourceCidr" not in template["parameters"]


def test_template_holds_no_secret_or_password() -> None:
    for path in GOLDEN.glob("*.json"):
        text = path.read_text().lower()
        assert "adminpassword" not in text
        assert '"disablepasswordauthentication": true' in text


def test_user_text_is_never_evaluated_as_an_arm_expression() -> None:
    from swarmstack.templates.azure import resolve_settings

    from .cases import spec

    settings = resolve_settings(spec(tags={"note": "[concat('a')]"}), require_ssh_key=False)
    template = arm_template(settings)
    assert {r["tags"]["note"] for r in template["resources"] if "tags" in r} == {"[[concat('a')]"}


UNTAGGED_TYPES = ("Microsoft.Authorization/roleAssignments",)


def test_every_resource_carries_the_cluster_tag_that_aws_uses() -> None:
    template = json.loads((GOLDEN / "default.json").read_text())
    for resource in template["resources"]:
        tags = resource.get("tags", {})
        assert not [key for key in tags if key.startswith("swarmstack:")], resource["name"]
        # Child resources (vault secrets, blob containers) go with their parent; role
        # assignments take no tags.
        if resource["type"].count("/") > 1 or resource["type"] in UNTAGGED_TYPES:
            continue
        assert tags["swarmstack-cluster"] == "swarm", resource["name"]


def test_the_upgrade_policy_suppression_is_true_of_the_scale_sets() -> None:
    # CKV_AZURE_95's reason says instances change only when an operator upgrades them.
    for path in GOLDEN.glob("*.json"):
        for resource in json.loads(path.read_text())["resources"]:
            if not resource["type"].endswith("virtualMachineScaleSets"):
                continue
            reasons = " ".join(resource["metadata"]["checkov"])
            assert "the upgrade policy is Manual" in reasons
            policy = resource["properties"]["upgradePolicy"]
            assert policy["mode"] == "Manual"
            assert "automaticOSUpgradePolicy" not in policy
