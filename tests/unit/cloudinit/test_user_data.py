"""Cloud-init user data: cloud-init's own validator, unknown keys, golden files, sizes, secrets."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from swarmstack import __version__
from swarmstack.cloudinit import (
    USER_DATA_LIMITS,
    generate_host_keys,
    render_user_data,
    tuning_script,
    user_data_base64,
)
from swarmstack.errors import UserDataTooLarge
from swarmstack.spec import Cloud

from .variants import ALL_VARIANTS, SPEC_VARIANTS, Variant, make_spec, user_data_files

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "cloudinit"
REGENERATE = os.environ.get("SWARMSTACK_REGEN_GOLDEN") == "1"
SCHEMA_FILE = Path(
    "/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"
)
CLOUD_INIT = shutil.which("cloud-init")

needs_cloud_init = pytest.mark.skipif(
    CLOUD_INIT is None or not SCHEMA_FILE.exists(),
    reason="Debian's cloud-init package is not installed (scripts/setup.sh installs it)",
)


# --- cloud-init's validator -------------------------------------------------------------------


@needs_cloud_init
@pytest.mark.parametrize("variant", ALL_VARIANTS, ids=lambda v: v.id)
def test_every_variant_passes_cloud_inits_validator(variant: Variant, tmp_path: Path) -> None:
    user_data = tmp_path / "user-data"
    user_data.write_text(variant.render())
    result = subprocess.run(
        [str(CLOUD_INIT), "schema", "--config-file", str(user_data)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def allowed_top_level_keys() -> set[str]:
    """Every top-level key some cloud-init module declares in cloud-init's schema."""
    schema = json.loads(SCHEMA_FILE.read_text())
    keys: set[str] = set()
    for ref in schema["allOf"]:
        definition = schema["$defs"][ref["$ref"].rsplit("/", 1)[-1]]
        keys |= set(definition.get("properties", {}))
    return keys


def unknown_top_level_keys(text: str) -> list[str]:
    """cloud-init < 23.4 ignores unknown top-level keys silently; we do not."""
    data: dict[str, Any] = yaml.safe_load(text)
    return sorted(set(data) - allowed_top_level_keys())


@needs_cloud_init
def test_unknown_key_check_rejects_a_typo() -> None:
    text = render_user_data(make_spec(), "manager", "aws")
    typo = text.replace("\nwrite_files:\n", "\nwrite_file:\n")
    assert typo != text
    assert unknown_top_level_keys(typo) == ["write_file"]
    assert unknown_top_level_keys(text) == []


@needs_cloud_init
@pytest.mark.parametrize("variant", ALL_VARIANTS, ids=lambda v: v.id)
def test_every_variant_uses_only_known_top_level_keys(variant: Variant) -> None:
    assert unknown_top_level_keys(variant.render()) == []


# --- golden files -----------------------------------------------------------------------------

GOLDEN_USER_DATA = {
    "manager-aws.yaml": Variant("manager", "aws", "all-on", False),
    "worker-aws-no-cloudwatch.yaml": Variant("worker", "aws", "all-off", False),
    "manager-azure.yaml": Variant("manager", "azure", "defaults", False),
    "worker-generic.yaml": Variant("worker", "generic", "all-on", False),
}


def check_golden(name: str, text: str) -> None:
    """Compare with the reviewed file; SWARMSTACK_REGEN_GOLDEN=1 rewrites it for review."""
    text = text.replace(__version__, "<version>")
    path = GOLDEN_DIR / name
    if REGENERATE:
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with SWARMSTACK_REGEN_GOLDEN=1 and review it"
    assert text == path.read_text(), (
        f"{name} differs from the reviewed golden file; if the change is intended, run "
        "SWARMSTACK_REGEN_GOLDEN=1 pytest tests/unit/cloudinit and review the diff"
    )


@pytest.mark.parametrize("name", GOLDEN_USER_DATA)
def test_user_data_matches_golden_file(name: str) -> None:
    check_golden(name, GOLDEN_USER_DATA[name].render())


@pytest.mark.parametrize("local_machine", [False, True], ids=["host", "local-machine"])
def test_script_matches_golden_file(local_machine: bool) -> None:
    spec = make_spec(
        enable_system_prune=True, default_addr_pool=["198.19.0.0/18"], vpc_cidr="10.0.0.0/16"
    )
    name = "script-local-machine.sh" if local_machine else "script.sh"
    check_golden(name, tuning_script(spec, "worker", local_machine=local_machine))


def test_rendering_is_deterministic() -> None:
    spec = make_spec(**SPEC_VARIANTS["all-on"])
    assert render_user_data(spec, "manager", "aws") == render_user_data(spec, "manager", "aws")
    assert user_data_base64(spec, "manager", "aws") == user_data_base64(spec, "manager", "aws")


# --- sizes ------------------------------------------------------------------------------------


def decode(encoded: str) -> bytes:
    raw = base64.b64decode(encoded, validate=True)
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


@pytest.mark.parametrize("variant", ALL_VARIANTS, ids=lambda v: v.id)
def test_every_variant_fits_its_cloud(variant: Variant) -> None:
    keys = generate_host_keys() if variant.with_host_keys else None
    text = variant.render(keys)
    encoded = base64.b64decode(
        user_data_base64(variant.spec, variant.role, variant.cloud, host_keys=keys)
    )
    limit = USER_DATA_LIMITS[variant.cloud]
    if limit is not None:
        assert len(encoded) <= limit
    raw = text.encode()
    if limit is not None and len(raw) > limit:
        assert gzip.decompress(encoded) == raw
    else:
        assert encoded == raw  # under the limit: plain text, readable in the console


def test_ec2_user_data_over_16kb_is_gzipped() -> None:
    spec = make_spec(**SPEC_VARIANTS["all-on"])
    text = render_user_data(spec, "manager", "aws")  # as the template ships it (no host keys)
    assert len(text.encode()) > 16 * 1024, "this test needs user data over EC2's raw limit"
    encoded = base64.b64decode(user_data_base64(spec, "manager", "aws"))
    assert encoded[:2] == b"\x1f\x8b"
    assert gzip.decompress(encoded).decode() == text
    # The node agent ships in it; keep room for fixes: growth past this is a conscious decision.
    assert len(encoded) <= 16 * 1024 - 512


def test_azure_custom_data_with_the_agent_is_gzipped_well_under_64kb() -> None:
    spec = make_spec(**SPEC_VARIANTS["all-on"])
    text = render_user_data(spec, "worker", "azure", host_keys=generate_host_keys())
    encoded = user_data_base64(spec, "worker", "azure")
    assert len(encoded) <= 32 * 1024  # base64 text: half of Azure's limit
    assert decode(encoded).decode() == render_user_data(spec, "worker", "azure")
    assert len(text.encode()) > 48 * 1024  # the agent's source: over the raw limit, so gzip


def test_user_data_too_large_even_gzipped_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(USER_DATA_LIMITS, "azure", 1000)
    with pytest.raises(UserDataTooLarge) as error:
        user_data_base64(make_spec(), "manager", "azure")
    (line,) = error.value.problems
    assert re.fullmatch(
        r"user data for azure is \d+ bytes \(\d+ gzip-compressed\), over the 1000-byte limit",
        line,
    )


# --- secrets ----------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "swarm join token": re.compile(r"SWMTKN-1-"),
    "swarm unlock key": re.compile(r"SWMKEY-1-"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "password or secret value": re.compile(
        r"(password|passwd|secret|client_secret|token)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{8,}",
        re.IGNORECASE,
    ),
}


@pytest.mark.parametrize(
    "variant", [v for v in ALL_VARIANTS if not v.with_host_keys], ids=lambda v: v.id
)
def test_no_secret_like_content_in_user_data(variant: Variant) -> None:
    text = variant.render()
    for what, pattern in SECRET_PATTERNS.items():
        assert not pattern.search(text), f"{what} in user data {variant.id}"


def test_no_secret_like_content_in_the_script() -> None:
    for local_machine in (False, True):
        spec = make_spec(default_addr_pool=["198.19.0.0/18"])
        script = tuning_script(spec, "manager", local_machine=local_machine)
        for what, pattern in SECRET_PATTERNS.items():
            assert not pattern.search(script), what


def test_secret_patterns_do_catch_secrets() -> None:
    text = render_user_data(make_spec(), "manager", "generic")
    leaked = text + "runcmd_extra: docker swarm join --token SWMTKN-1-abcdef\n"
    assert SECRET_PATTERNS["swarm join token"].search(leaked)
    assert SECRET_PATTERNS["password or secret value"].search("password: hunter2hunter2")


def test_host_keys_are_the_only_private_material(tmp_path: Path) -> None:
    keys = generate_host_keys()
    text = render_user_data(make_spec(), "worker", "aws", host_keys=keys)
    data = yaml.safe_load(text)
    assert data["ssh_keys"] == {
        "ed25519_private": keys.ed25519_private,
        "ed25519_public": keys.ed25519_public,
    }
    assert text.count("PRIVATE KEY-----") == 2  # BEGIN and END of the one host key
    for content, _, _ in user_data_files(text).values():
        assert "PRIVATE KEY" not in content
    assert keys.ed25519_private not in repr(keys)


def test_the_admin_key_goes_only_into_generic_user_data() -> None:
    spec = make_spec(**SPEC_VARIANTS["all-on"])
    generic = yaml.safe_load(render_user_data(spec, "worker", "generic"))
    assert generic["ssh_authorized_keys"] == [spec.ssh_public_key]
    for cloud in ("aws", "azure"):  # their own APIs install it (key pair, osProfile)
        data = yaml.safe_load(render_user_data(spec, "worker", cloud))
        assert "ssh_authorized_keys" not in data


@pytest.mark.parametrize("cloud", ["aws", "azure", "generic"])
def test_always_gzip_compresses_small_user_data_too(cloud: Cloud) -> None:
    spec = make_spec(**SPEC_VARIANTS["all-off"])
    text = render_user_data(spec, "worker", cloud)
    encoded = base64.b64decode(user_data_base64(spec, "worker", cloud, always_gzip=True))
    assert encoded[:2] == b"\x1f\x8b"
    assert gzip.decompress(encoded).decode() == text
