"""Fixtures: a fake Azure Resource Manager + token endpoint over HTTPS on loopback.

The certificate is made here with openssl; the SDK trusts it through REQUESTS_CA_BUNDLE, the
same variable users set for a private CA. Credentials are azure-identity's real
ClientSecretCredential against the fake authority, with instance discovery off - never
DefaultAzureCredential (it probes a metadata address).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential

from swarmstack.azure.clients import AzureClients, connect
from swarmstack.azure.credentials import AzureCloud
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure, serve

from ..fake_arm_deployments import attach_deployments

TENANT = "72f988bf-0000-4000-8000-000000000001"
CLIENT_ID = "11111111-2222-4333-8444-555555555555"
CLIENT_SECRET = "fake-client-secret-Zq8~not-real"
SUBSCRIPTION = "00000000-1111-4222-8333-444444444444"
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def fake_azure(
    tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAzure]:
    cert, key = tls_files
    fake = FakeAzure(TENANT, CLIENT_ID, CLIENT_SECRET)
    attach_deployments(fake)  # Resource Manager always has template deployments
    server, _ = serve(fake, cert, key)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    yield fake
    server.shutdown()
    server.server_close()


def secret_credential(fake: FakeAzure, secret: str = CLIENT_SECRET) -> ClientSecretCredential:
    """azure-identity's real client-secret flow against the fake authority."""
    return ClientSecretCredential(
        TENANT, CLIENT_ID, secret, authority=fake.base_url, disable_instance_discovery=True
    )


@pytest.fixture
def clients(fake_azure: FakeAzure) -> Iterator[AzureClients]:
    result = connect(
        secret_credential(fake_azure), SUBSCRIPTION, AzureCloud(fake_azure.base_url), poll_seconds=0
    )
    yield result
    result.close()
