"""IMDSv2 for the simulated instances: one HTTP server on the cluster's bridge, telling the
machines apart by their source address.

Machines reach it through AWS_EC2_METADATA_SERVICE_ENDPOINT (never 169.254.169.254), which
botocore and the AWS CLI honour. As on EC2 with HttpTokens=required:
    PUT /latest/api/token  (X-aws-ec2-metadata-token-ttl-seconds: 1..21600) -> a token
    GET /latest/...        (X-aws-ec2-metadata-token: TOKEN) -> 200, else 401
A token is good only from the address that asked for it, and only until its TTL. A PUT that
carries X-Forwarded-For is refused (403), as EC2 refuses tokens through proxies.
What an instance looks like comes from `lookup(address)`; the server has no moto in it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_HEADER = "X-aws-ec2-metadata-token"  # noqa: S105 - a header name
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600
CREDENTIALS_LIFETIME = timedelta(hours=6)


@dataclass(frozen=True)
class InstanceMetadata:
    """What IMDS knows about one instance."""

    instance_id: str
    account_id: str
    region: str
    availability_zone: str
    private_ip: str
    hostname: str
    image_id: str
    instance_type: str
    launched: datetime
    tags: dict[str, str] = field(default_factory=dict)
    role_name: str | None = None  # of the instance profile, for iam/security-credentials/
    user_data: bytes | None = None


Lookup = Callable[[str], InstanceMetadata | None]


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    token: str
    expiration: datetime


def fake_credentials(now: datetime) -> Credentials:
    """Temporary credentials in AWS's shapes; moto accepts any."""
    return Credentials(
        access_key_id="ASIA" + secrets.token_hex(8).upper(),
        secret_access_key=secrets.token_urlsafe(30),
        token=secrets.token_urlsafe(96),
        expiration=now + CREDENTIALS_LIFETIME,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata_answer(
    instance: InstanceMetadata, path: str, credentials: Callable[[], Credentials]
) -> tuple[str, bytes] | None:
    """(content type, body) for a GET of `path` under /latest/, or None (404). Pure."""
    text = "text/plain"
    listing = {
        "meta-data/": [
            "ami-id",
            "hostname",
            "iam/",
            "instance-id",
            "instance-type",
            "local-hostname",
            "local-ipv4",
            "placement/",
            "tags/",
        ],
        "meta-data/placement/": ["availability-zone", "region"],
        "meta-data/tags/": ["instance"],
        "meta-data/iam/": ["info", "security-credentials/"] if instance.role_name else [],
        "dynamic/": ["instance-identity/"],
        "dynamic/instance-identity/": ["document"],
    }
    values = {
        "meta-data/ami-id": instance.image_id,
        "meta-data/hostname": instance.hostname,
        "meta-data/local-hostname": instance.hostname,
        "meta-data/instance-id": instance.instance_id,
        "meta-data/instance-type": instance.instance_type,
        "meta-data/local-ipv4": instance.private_ip,
        "meta-data/placement/availability-zone": instance.availability_zone,
        "meta-data/placement/region": instance.region,
    }
    if path in ("", "/"):
        return text, b"dynamic\nmeta-data\n" + (b"user-data\n" if instance.user_data else b"")
    directory = path if path.endswith("/") else path + "/"
    if directory in listing:
        return text, "\n".join(listing[directory]).encode()
    if path in values:
        return text, values[path].encode()
    if path == "user-data" and instance.user_data is not None:
        return "application/octet-stream", instance.user_data
    if path.rstrip("/") == "meta-data/tags/instance":
        return text, "\n".join(sorted(instance.tags)).encode()
    if path.startswith("meta-data/tags/instance/"):
        key = path.removeprefix("meta-data/tags/instance/")
        return (text, instance.tags[key].encode()) if key in instance.tags else None
    if instance.role_name:
        if path.rstrip("/") == "meta-data/iam/security-credentials":
            return text, instance.role_name.encode()
        if path == f"meta-data/iam/security-credentials/{instance.role_name}":
            given = credentials()
            return "application/json", _json(
                {
                    "Code": "Success",
                    "LastUpdated": _iso(datetime.now(UTC)),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": given.access_key_id,
                    "SecretAccessKey": given.secret_access_key,
                    "Token": given.token,
                    "Expiration": _iso(given.expiration),
                }
            )
        if path == "meta-data/iam/info":
            return "application/json", _json(
                {
                    "Code": "Success",
                    "LastUpdated": _iso(datetime.now(UTC)),
                    "InstanceProfileArn": f"arn:aws:iam::{instance.account_id}:"
                    f"instance-profile/{instance.role_name}",
                    "InstanceProfileId": "AIPA" + instance.instance_id[2:].upper(),
                }
            )
    if path == "dynamic/instance-identity/document":
        return "application/json", _json(
            {
                "accountId": instance.account_id,
                "architecture": "x86_64",
                "availabilityZone": instance.availability_zone,
                "billingProducts": None,
                "devpayProductCodes": None,
                "marketplaceProductCodes": None,
                "imageId": instance.image_id,
                "instanceId": instance.instance_id,
                "instanceType": instance.instance_type,
                "kernelId": None,
                "pendingTime": _iso(instance.launched),
                "privateIp": instance.private_ip,
                "ramdiskId": None,
                "region": instance.region,
                "version": "2017-09-30",
            }
        )
    return None


def _json(data: dict[str, object]) -> bytes:
    return json.dumps(data, indent=2).encode()


class TokenStore:
    """Tokens by value: the address they were issued to and when they expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def issue(self, address: str, ttl: int) -> str:
        token = secrets.token_urlsafe(42)
        with self._lock:
            now = self._clock()
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (address, now + ttl)
        return token

    def valid(self, token: str | None, address: str) -> bool:
        if not token:
            return False
        with self._lock:
            found = self._tokens.get(token)
        return found is not None and found[0] == address and found[1] > self._clock()


class ImdsServer:
    """The threaded HTTP server; `start()` serves in a daemon thread, `stop()` ends it."""

    def __init__(self, address: str, port: int, lookup: Lookup) -> None:
        self.lookup = lookup
        self.tokens = TokenStore()
        self._credentials: dict[str, Credentials] = {}
        self._credentials_lock = threading.Lock()
        self._http = ThreadingHTTPServer((address, port), _handler_for(self))
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._http.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint(self) -> str:
        """The value for AWS_EC2_METADATA_SERVICE_ENDPOINT."""
        host, port = self.address
        return f"http://{host}:{port}/"

    def credentials_for(self, instance_id: str) -> Credentials:
        """One set per instance, renewed an hour before it expires (as EC2 rotates them)."""
        now = datetime.now(UTC)
        with self._credentials_lock:
            current = self._credentials.get(instance_id)
            if current is None or current.expiration - now < timedelta(hours=1):
                current = self._credentials[instance_id] = fake_credentials(now)
            return current

    def start(self) -> None:
        self._thread = threading.Thread(target=self._http.serve_forever, name="imds", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _handler_for(server: ImdsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "EC2ws"
        sys_version = ""

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request would drown the simulation's log

        def _send(self, status: HTTPStatus, body: bytes = b"", kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_PUT(self) -> None:
            if self.path != "/latest/api/token":
                self._send(HTTPStatus.NOT_FOUND)
                return
            if self.headers.get("X-Forwarded-For"):
                self._send(HTTPStatus.FORBIDDEN)
                return
            try:
                ttl = int(self.headers.get(TTL_HEADER, ""))
            except ValueError:
                ttl = 0
            if not 1 <= ttl <= MAX_TTL:
                self._send(HTTPStatus.BAD_REQUEST)
                return
            token = server.tokens.issue(self.client_address[0], ttl)
            self.send_response(HTTPStatus.OK)
            self.send_header(TTL_HEADER, str(ttl))
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(token)))
            self.end_headers()
            self.wfile.write(token.encode())

        def do_GET(self) -> None:
            address = self.client_address[0]
            if not server.tokens.valid(self.headers.get(TOKEN_HEADER), address):
                self._send(HTTPStatus.UNAUTHORIZED)
                return
            instance = server.lookup(address)
            if instance is None or not self.path.startswith("/latest/"):
                self._send(HTTPStatus.NOT_FOUND)
                return
            answer = metadata_answer(
                instance,
                self.path.removeprefix("/latest/"),
                lambda: server.credentials_for(instance.instance_id),
            )
            if answer is None:
                self._send(HTTPStatus.NOT_FOUND)
                return
            kind, body = answer
            self._send(HTTPStatus.OK, body, kind)

        do_HEAD = do_GET

    return Handler
