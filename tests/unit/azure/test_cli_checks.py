"""Bad input fails before any cloud call: one line naming the parameter (no network here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmstack.cli.main import cli

from .cases import KEY

SUBSCRIPTION = "00000000-1111-4222-8333-444444444444"


def deploy(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    def no_credential(cloud: object) -> None:
        raise AssertionError("no credential may be built for bad input")

    monkeypatch.setattr("swarmstack.azure.credentials.default_credential", no_credential)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    result = CliRunner().invoke(cli, ["azure", "deploy", "-g", "rg", "--no-wait", *args])
    return result.exit_code, result.stderr


def test_no_subscription_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = deploy(monkeypatch, "--location", "westeurope", "--ssh-public-key", KEY)
    assert code == 1
    assert err.splitlines()[0] == (
        "error: no Azure subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID"
    )


def test_an_aws_region_is_not_an_azure_location(monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = deploy(monkeypatch, "--location", "eu-west-1", "--ssh-public-key", KEY)
    assert code == 2
    assert "error: --location=eu-west-1: must be an Azure location like westeurope" in err


def test_a_spec_files_aws_region_is_named_as_the_files_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text("region: eu-west-1\n")
    code, err = deploy(monkeypatch, "-f", str(spec), "--ssh-public-key", KEY)
    assert code == 2
    assert "error: region=eu-west-1: must be an Azure location like westeurope" in err


def test_azure_has_one_name_for_the_location(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure says location: --region is refused with a pointer, before any call."""
    code, err = deploy(monkeypatch, "--region", "westeurope", "--ssh-public-key", KEY)
    assert code == 2
    assert err.splitlines() == [
        "error: --region=westeurope: this command calls it --location; use --location westeurope"
    ]


def test_arm_endpoint_must_be_https(monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = deploy(
        monkeypatch, "--location", "westeurope", "--ssh-public-key", KEY,
        "--subscription", SUBSCRIPTION, "--arm-endpoint", "http://127.0.0.1:1",
    )  # fmt: skip
    assert code == 2
    assert "error: --arm-endpoint=http://127.0.0.1:1: must be an https:// URL" in err


def test_aws_instance_types_are_rejected_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = deploy(
        monkeypatch, "--location", "westeurope", "--ssh-public-key", KEY,
        "--subscription", SUBSCRIPTION, "--instance-type", "m7i.large",
    )  # fmt: skip
    assert code == 2
    assert "error: instance_type=m7i.large: must be an Azure VM size" in err


def test_custom_authorities_turn_instance_discovery_off() -> None:
    from swarmstack.azure.credentials import cloud_from

    stack = cloud_from("https://management.local.azurestack.external", {
        "AZURE_AUTHORITY_HOST": "https://adfs.local.azurestack.external"
    })  # fmt: skip
    assert stack.custom_authority
    assert stack.scopes == ["https://management.local.azurestack.external/.default"]
    gov = cloud_from("https://management.usgovcloudapi.net", {
        "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us"
    })  # fmt: skip
    assert not gov.custom_authority
    assert not cloud_from(None, {}).custom_authority


def test_the_ssh_bootstrap_needs_ssh_from_somewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("swarmstack.azure.credentials.default_credential", print)
    result = CliRunner().invoke(
        cli,
        ["azure", "deploy", "-g", "rg", "--location", "westeurope", "--ssh-public-key", KEY,
         "--subscription", SUBSCRIPTION, "--ssh-bootstrap"],
    )  # fmt: skip
    code, err = result.exit_code, result.stderr
    assert code == 2
    assert "error: --ssh-bootstrap needs ssh_cidr (--ssh-cidr)" in err
    assert "the nodes form the swarm themselves" in err
