"""The IMDSv2 emulation of the AWS simulation: tokens, per-address answers, EC2's shapes.

The server runs on loopback with a fixed lookup; each test is an HTTP conversation as a
machine (or botocore) would have it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from swarmstack.provisioners.local.sim.imds import (
    ImdsServer,
    InstanceMetadata,
    TokenStore,
    fake_credentials,
    metadata_answer,
)

INSTANCE = InstanceMetadata(
    instance_id="i-0123456789abcdef0",
    account_id="123456789012",
    region="eu-west-1",
    availability_zone="eu-west-1b",
    private_ip="127.0.0.1",
    hostname="i-0123456789abcdef0",
    image_id="ami-12345678",
    instance_type="t3.medium",
    launched=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    tags={"swarmstack-role": "worker", "swarmstack-cluster": "prod"},
    role_name="prod-WorkerRole",
    user_data=b"#cloud-config\n",
)


@pytest.fixture
def imds() -> Iterator[str]:
    """The server on a free loopback port, knowing INSTANCE at 127.0.0.1 only."""
    server = ImdsServer(
        "127.0.0.1", 0, lambda address: INSTANCE if address == "127.0.0.1" else None
    )
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


def _request(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def _token(endpoint: str, ttl: str = "60") -> str:
    status, body, headers = _request(
        f"{endpoint}latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
    )
    assert status == 200
    assert headers["X-aws-ec2-metadata-token-ttl-seconds"] == ttl
    return body.decode()


def _get(endpoint: str, path: str, token: str | None) -> tuple[int, bytes]:
    headers = {"X-aws-ec2-metadata-token": token} if token else {}
    status, body, _ = _request(f"{endpoint}latest/{path}", headers=headers)
    return status, body


def test_without_a_token_every_read_is_401(imds: str) -> None:
    assert _get(imds, "meta-data/instance-id", None)[0] == 401
    assert _get(imds, "meta-data/instance-id", "made-up")[0] == 401


def test_a_token_needs_a_ttl_between_1_and_21600_seconds(imds: str) -> None:
    for ttl in ("", "0", "21601", "x"):
        headers = {"X-aws-ec2-metadata-token-ttl-seconds": ttl} if ttl else {}
        assert _request(f"{imds}latest/api/token", "PUT", headers)[0] == 400


def test_a_token_through_a_proxy_is_refused(imds: str) -> None:
    headers = {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.1"}
    assert _request(f"{imds}latest/api/token", "PUT", headers)[0] == 403


def test_with_a_token_the_instance_reads_its_own_metadata(imds: str) -> None:
    token = _token(imds)
    expected = {
        "meta-data/instance-id": "i-0123456789abcdef0",
        "meta-data/placement/availability-zone": "eu-west-1b",
        "meta-data/placement/region": "eu-west-1",
        "meta-data/local-ipv4": "127.0.0.1",
        "meta-data/tags/instance": "swarmstack-cluster\nswarmstack-role",
        "meta-data/tags/instance/swarmstack-role": "worker",
        "meta-data/iam/security-credentials/": "prod-WorkerRole",
        "user-data": "#cloud-config\n",
    }
    for path, value in expected.items():
        assert _get(imds, path, token) == (200, value.encode()), path


def test_a_missing_tag_or_path_is_404(imds: str) -> None:
    token = _token(imds)
    assert _get(imds, "meta-data/tags/instance/nope", token)[0] == 404
    assert _get(imds, "meta-data/nothing-here", token)[0] == 404


def test_role_credentials_have_the_shape_botocore_reads(imds: str) -> None:
    token = _token(imds)
    status, body = _get(imds, "meta-data/iam/security-credentials/prod-WorkerRole", token)
    assert status == 200
    credentials = json.loads(body)
    assert credentials["Code"] == "Success"
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["SecretAccessKey"]
    assert credentials["Token"]
    expiration = datetime.strptime(credentials["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert expiration.replace(tzinfo=UTC) > datetime.now(UTC)
    # The same instance keeps its credentials until they near expiry.
    assert (
        json.loads(_get(imds, "meta-data/iam/security-credentials/prod-WorkerRole", token)[1])[
            "AccessKeyId"
        ]
        == credentials["AccessKeyId"]
    )


def test_the_identity_document_describes_the_instance(imds: str) -> None:
    token = _token(imds)
    status, body = _get(imds, "dynamic/instance-identity/document", token)
    assert status == 200
    document = json.loads(body)
    assert document["instanceId"] == "i-0123456789abcdef0"
    assert document["region"] == "eu-west-1"
    assert document["availabilityZone"] == "eu-west-1b"
    assert document["privateIp"] == "127.0.0.1"
    assert document["accountId"] == "123456789012"
    assert document["pendingTime"] == "2026-01-02T03:04:05Z"


def test_botocore_finds_region_zone_and_credentials_through_the_endpoint_variable(
    imds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the node code relies on: AWS_EC2_METADATA_SERVICE_ENDPOINT, nothing else."""
    from botocore.credentials import InstanceMetadataProvider
    from botocore.utils import InstanceMetadataFetcher

    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    fetcher = InstanceMetadataFetcher(
        timeout=2, num_attempts=1, config={"ec2_metadata_service_endpoint": imds}
    )
    credentials = InstanceMetadataProvider(iam_role_fetcher=fetcher).load()
    assert credentials is not None
    assert credentials.access_key.startswith("ASIA")


def test_a_token_is_bound_to_the_address_and_its_ttl() -> None:
    now = [100.0]
    store = TokenStore(clock=lambda: now[0])
    token = store.issue("198.18.0.11", 10)
    assert store.valid(token, "198.18.0.11")
    assert not store.valid(token, "198.18.0.12")  # another machine cannot use it
    now[0] += 11
    assert not store.valid(token, "198.18.0.11")


def test_an_instance_without_a_role_has_no_credentials_path() -> None:
    bare = InstanceMetadata(**{**INSTANCE.__dict__, "role_name": None})
    answer = metadata_answer(
        bare, "meta-data/iam/security-credentials/", lambda: fake_credentials(datetime.now(UTC))
    )
    assert answer is None
