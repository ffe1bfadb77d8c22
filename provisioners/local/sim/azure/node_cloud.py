"""What an Azure node talks to, faked on loopback: the instance metadata service (HTTP, one
path prefix per instance), and Key Vault, Blob storage and the Resource Manager calls of the
node agent (HTTPS).

Access is enforced as Azure does it, from the role assignments of the rendered ARM template:
a token names the scale set whose identity asked for it (the IMDS of an instance hands out its
scale set's system-assigned identity); each call needs a role on the resource it touches -
Key Vault Secrets User/Officer on the secret, Storage Blob Data Reader/Contributor on the
container, Reader or Network Contributor on the scale set, load balancer or security group -
or it gets 403 (Key Vault: Forbidden; storage: AuthorizationPermissionMismatch; Resource
Manager: AuthorizationFailed). Blobs created with If-None-Match: * answer 409 BlobAlreadyExists
when they exist; a secret's GET returns its latest version.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .....contract import CLUSTER_TAG, ROLE_TAG
from .....templates.azure.selfmanaging import ROLES
from ....nodeagent.azure import AZURE_STORAGE_TAG, AZURE_VAULT_TAG
from .blob_store import Blobs, blob_reply
from .replies import Reply

ROLE_NAMES = {role_id: name for name, role_id in ROLES.items()}
# Built-in roles reduced to what the agent does: (resource kind, action).
ALLOWS = {
    "Key Vault Secrets User": {("secret", "read")},
    "Key Vault Secrets Officer": {("secret", "read"), ("secret", "write")},
    "Storage Blob Data Reader": {("container", "read")},
    "Storage Blob Data Contributor": {("container", "read"), ("container", "write")},
    "Reader": {("arm", "read")},
    "Network Contributor": {("arm", "read"), ("arm", "write")},
}
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
GROUP = "swarm-rg"


@dataclass(frozen=True)
class Grant:
    scale_set: str
    role: str
    kind: str  # secret, container or arm
    name: str  # the secret's, the container's, or the ARM resource's name


def grants_of(template: dict[str, Any]) -> list[Grant]:
    """The template's role assignments, as Azure would evaluate them."""
    grants = []
    for resource in template["resources"]:
        if resource["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        properties = resource["properties"]
        principal = re.search(r"virtualMachineScaleSets', '([^']+)'", properties["principalId"])
        role = re.search(r"roleDefinitions', '([0-9a-f-]+)'", properties["roleDefinitionId"])
        scope = resource["scope"]
        name = re.findall(r"'([^']+)'\)\]$", scope)
        assert principal, resource
        assert role, resource
        assert name, scope
        kind = "secret" if "/secrets/" in scope else "container" if "containers" in scope else "arm"
        grants.append(Grant(principal[1], ROLE_NAMES[role[1]], kind, name[0]))
    return grants


@dataclass
class Instance:
    name: str  # "<scale set>_<n>"
    scale_set: str
    role: str
    address: str
    zone: str
    events: list[dict[str, Any]] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # more tags, or "" to drop one


class FakeNodeCloud:
    def __init__(self, template: dict[str, Any], cluster: str, vault: str, storage: str) -> None:
        self.grants = grants_of(template)
        self.cluster = cluster
        self.vault = vault
        self.storage = storage
        self.lock = threading.RLock()
        self.instances: dict[str, Instance] = {}
        self.tokens: dict[str, str] = {}  # access token -> scale set
        self.secrets: dict[str, list[str]] = {}  # name -> versions
        self.blobs: Blobs = {}  # (container, name) -> body
        self.arm: dict[str, Any] = {}  # lower-case resource id -> body
        self.denied: list[str] = []
        self.imds_url = ""
        self.service_url = ""
        for resource in template["resources"]:
            if resource["type"] == "Microsoft.KeyVault/vaults/secrets":
                secret = re.findall(r"'([^']+)'\)\]$", resource["name"])[0]
                self.secrets[secret] = [resource["properties"]["value"]]
            if resource["type"].endswith("/loadBalancers"):
                self.put_arm(resource, "loadBalancers")
            if resource["type"].endswith("/networkSecurityGroups"):
                self.put_arm(resource, "networkSecurityGroups")

    def put_arm(self, resource: dict[str, Any], kind: str) -> None:
        rid = self.resource_id(f"Microsoft.Network/{kind}", resource["name"])
        body = json.loads(json.dumps({k: resource[k] for k in ("properties", "tags")}))
        self.arm[rid.lower()] = {"id": rid, "name": resource["name"], **body}

    def resource_id(self, kind: str, name: str) -> str:
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/{kind}/{name}"

    # --- the test's levers ------------------------------------------------------------------

    def add_instance(self, role: str, number: int, address: str, zone: str = "1") -> Instance:
        scale_set = f"{self.cluster}-{role}s"
        instance = Instance(f"{scale_set}_{number}", scale_set, role, address, zone)
        self.instances[instance.name] = instance
        return instance

    def schedule_terminate(self, name: str) -> str:
        """A Terminate event, delivered to every VM of the scale set (Azure's behaviour)."""
        event_id = str(uuid.uuid4()).upper()
        leaving = self.instances[name]
        event = {
            "EventId": event_id,
            "EventType": "Terminate",
            "ResourceType": "VirtualMachine",
            "Resources": [name],
            "EventStatus": "Scheduled",
            "NotBefore": "Mon, 19 Sep 2026 18:29:47 GMT",
            "Description": "",
            "EventSource": "Platform",
            "DurationInSeconds": -1,
        }
        for instance in self.instances.values():
            if instance.scale_set == leaving.scale_set:
                instance.events.append(dict(event))
        return event_id

    def imds(self, name: str) -> str:
        return f"{self.imds_url}/{name}"

    # --- access ------------------------------------------------------------------------------

    def allowed(self, token: str, kind: str, name: str, action: str) -> bool:
        scale_set = self.tokens.get(token)
        return any(
            grant.scale_set == scale_set
            and grant.kind == kind
            and grant.name.lower() == name.lower()
            and (kind, action) in ALLOWS[grant.role]
            for grant in self.grants
        )

    # --- IMDS ---------------------------------------------------------------------------------

    def handle_imds(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        name, _, rest = path.lstrip("/").partition("/")
        instance = self.instances.get(name)
        if instance is None:
            return Reply(404, {"error": "no such instance"})
        if rest == "metadata/instance":
            return Reply(200, self.instance_document(instance))
        if rest == "metadata/identity/oauth2/token":
            token = uuid.uuid4().hex
            self.tokens[token] = instance.scale_set
            return Reply(200, {"access_token": token, "expires_on": "4102444800",
                               "resource": query.get("resource", "")})  # fmt: skip
        if rest == "metadata/scheduledevents" and method == "GET":
            return Reply(
                200, {"DocumentIncarnation": len(instance.events), "Events": instance.events}
            )
        if rest == "metadata/scheduledevents" and method == "POST":
            for start in json.loads(body)["StartRequests"]:
                for holder in self.instances.values():
                    holder.events = [e for e in holder.events if e["EventId"] != start["EventId"]]
                instance.approved.append(start["EventId"])
            return Reply(200, None)
        return Reply(404, {"error": rest})

    def instance_document(self, instance: Instance) -> dict[str, Any]:
        tags = {
            CLUSTER_TAG: self.cluster,
            ROLE_TAG: instance.role,
            AZURE_VAULT_TAG: self.vault,
            AZURE_STORAGE_TAG: self.storage,
            **instance.tags,
        }
        tags = {key: value for key, value in tags.items() if value}
        return {
            "compute": {
                "name": instance.name,
                "vmScaleSetName": instance.scale_set,
                "zone": instance.zone,
                "location": "westeurope",
                "subscriptionId": SUBSCRIPTION,
                "resourceGroupName": GROUP,
                "resourceId": self.resource_id(
                    "Microsoft.Compute/virtualMachineScaleSets",
                    f"{instance.scale_set}/virtualMachines/{instance.name.rsplit('_', 1)[1]}",
                ),
                "tagsList": [{"name": k, "value": v} for k, v in tags.items()],
            },
            "network": {
                "interface": [{"ipv4": {"ipAddress": [{"privateIpAddress": instance.address}]}}]
            },
        }

    # --- Key Vault, blobs, Resource Manager -------------------------------------------------

    def handle_service(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return Reply(401, {"error": {"code": "Unauthorized", "message": "no token"}})
        service, _, rest = path.lstrip("/").partition("/")
        if service == "vault":
            return self.vault_call(token, method, rest, body)
        if service == "blob":
            return self.blob_call(token, method, rest, query, headers, body)
        if service == "arm":
            return self.arm_call(token, method, "/" + rest, body)
        return Reply(404, None)

    def deny(self, what: str, code: str, status: int = 403) -> Reply:
        self.denied.append(what)
        return Reply(status, {"error": {"code": code, "message": what}}, {"x-ms-error-code": code})

    def vault_call(self, token: str, method: str, rest: str, body: bytes) -> Reply:
        secret = rest.removeprefix("secrets/")
        action = "read" if method == "GET" else "write"
        if not self.allowed(token, "secret", secret, action):
            return self.deny(f"{self.tokens[token]} {action} secret {secret}", "Forbidden")
        if method == "GET":
            if secret not in self.secrets:
                return Reply(404, {"error": {"code": "SecretNotFound"}})
            return Reply(200, {"value": self.secrets[secret][-1], "id": secret})
        self.secrets.setdefault(secret, []).append(json.loads(body)["value"])
        return Reply(200, {"id": secret})

    def blob_call(
        self,
        token: str,
        method: str,
        rest: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Reply:
        container, _, name = rest.partition("/")
        name = unquote(name)
        action = "read" if method == "GET" else "write"
        if not self.allowed(token, "container", container, action):
            return self.deny(
                f"{self.tokens[token]} {action} {container}/{name}",
                "AuthorizationPermissionMismatch",
            )
        return blob_reply(self.blobs, (container,), name, method, query, headers, body)

    def arm_call(self, token: str, method: str, path: str, body: bytes) -> Reply:
        parts = path.split("/")
        # /subscriptions/S/resourceGroups/G/providers/NS/TYPE/NAME[/child...]
        name = parts[8] if len(parts) > 8 else ""
        action = "read" if method == "GET" else "write"
        if not self.allowed(token, "arm", name, action):
            return self.deny(f"{self.tokens[token]} {method} {path}", "AuthorizationFailed")
        if parts[7] == "virtualMachineScaleSets":
            return Reply(200, {"value": self.scale_set_listing(name, parts[9])})
        key = path.lower()
        if len(parts) == 11 and parts[9] == "securityRules":
            nsg = self.arm["/".join(parts[:9]).lower()]
            rules = [r for r in nsg["properties"]["securityRules"] if r["name"] != parts[10]]
            if method == "PUT":
                rules.append({"name": parts[10], **json.loads(body)})
            nsg["properties"]["securityRules"] = rules
            return Reply(200, {})
        if method == "GET":
            return Reply(200, self.arm[key]) if key in self.arm else Reply(404, None)
        self.arm[key] = json.loads(body)
        return Reply(200, self.arm[key])

    def scale_set_listing(self, scale_set: str, what: str) -> list[dict[str, Any]]:
        kind = "Microsoft.Compute/virtualMachineScaleSets"
        result = []
        for instance in self.instances.values():
            if instance.scale_set != scale_set:
                continue
            number = instance.name.rsplit("_", 1)[1]
            vm_id = self.resource_id(kind, f"{scale_set}/virtualMachines/{number}")
            if what == "virtualMachines":
                result.append({"id": vm_id, "name": instance.name, "zones": [instance.zone],
                               "properties": {"provisioningState": "Succeeded"}})  # fmt: skip
            else:
                config = {"properties": {"primary": True, "privateIPAddress": instance.address}}
                result.append(
                    {"properties": {"virtualMachine": {"id": vm_id}, "ipConfigurations": [config]}}
                )
        return result


def _handler(fake: FakeNodeCloud, imds: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake.lock:
                if imds:
                    if headers.get("metadata") != "true":
                        reply = Reply(400, {"error": "Metadata: true header required"})
                    else:
                        reply = fake.handle_imds(self.command, url.path, query, body)
                else:
                    reply = fake.handle_service(self.command, url.path, query, headers, body)
            payload = reply.body
            if payload is not None and not isinstance(payload, bytes):
                payload = json.dumps(payload).encode()
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload or b"")))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

    return Handler


@contextmanager
def serve(fake: FakeNodeCloud, cert: Path, key: Path) -> Iterator[FakeNodeCloud]:
    """IMDS over HTTP and the services over HTTPS, each on a free loopback port."""
    imds = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake, imds=True))
    services = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake, imds=False))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    services.socket = context.wrap_socket(services.socket, server_side=True)
    fake.imds_url = f"http://127.0.0.1:{imds.server_address[1]}"
    fake.service_url = f"https://127.0.0.1:{services.server_address[1]}"
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (imds, services)]
    for thread in threads:
        thread.start()
    try:
        yield fake
    finally:
        for server in (imds, services):
            server.shutdown()
            server.server_close()
