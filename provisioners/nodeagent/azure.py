"""The node agent's Azure calls, over REST with the standard library (nodes have no pip).

- Instance metadata, managed-identity tokens and Scheduled Events from the instance metadata
  service; Key Vault secrets (the join tokens); blobs in the cluster's storage account (leases,
  the swarm record, leaving notices); the scale sets' instances, the load balancer and the
  security group through Resource Manager. Every call carries the scale set's own identity.
- Endpoints come from the environment, so tests and the local simulation reach fakes on
  loopback: NODE_AGENT_AZURE_IMDS_ENDPOINT (instance metadata and Scheduled Events),
  AZURE_POD_IDENTITY_AUTHORITY_HOST (tokens; azure-identity's variable for the same service),
  NODE_AGENT_AZURE_MANAGEMENT_ENDPOINT, NODE_AGENT_AZURE_VAULT_ENDPOINT and
  NODE_AGENT_AZURE_BLOB_ENDPOINT (each replaces the service's base URL). HTTPS certificates are
  checked against the system's store (SSL_CERT_FILE adds a test CA).
- Secrets (join tokens, access tokens) are returned to the caller and never logged; errors
  carry the status and Azure's error code only.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...contract import CLUSTER_TAG
from .aws import StackResources
from .azure_shapes import (
    SERVICE_PREFIX,
    instances_of,
    leaving_events,
    parse_leaving,
    service_rules,
    service_security_rule,
    with_port,
    without_port,
)
from .decisions import Instance, Lease, NodeIdentity, Notice, SwarmRecord

if TYPE_CHECKING:
    from .engine import Engine
    from .main import Settings

# --- what the ARM template (templates/azure/selfmanaging.py) and this adapter agree on ------
# (here, not in swarmstack.contract: that module ships in the AWS user data, at its limit)
# The scale sets carry these tags; each instance reads them from instance metadata (tagsList).
AZURE_VAULT_TAG = "swarmstack-vault"  # the cluster's Key Vault name
AZURE_STORAGE_TAG = "swarmstack-storage"  # the cluster's storage account name
# Key Vault secrets holding the join tokens (workers' identities may read only the worker one).
AZURE_TOKEN_SECRETS = {"manager": "swarm-manager-token", "worker": "swarm-worker-token"}
# Blob containers: the swarm's state (managers write, workers read) and leaving notices (both).
AZURE_STATE_CONTAINER = "swarm"
AZURE_LEAVING_CONTAINER = "leaving"

IMDS_DEFAULT = "http://169.254.169.254"
IMDS_ENV = "NODE_AGENT_AZURE_IMDS_ENDPOINT"
AUTHORITY_ENV = "AZURE_POD_IDENTITY_AUTHORITY_HOST"
MANAGEMENT_ENV = "NODE_AGENT_AZURE_MANAGEMENT_ENDPOINT"
VAULT_ENV = "NODE_AGENT_AZURE_VAULT_ENDPOINT"
BLOB_ENV = "NODE_AGENT_AZURE_BLOB_ENDPOINT"
MANAGEMENT = "https://management.azure.com"
VAULT_AUDIENCE = "https://vault.azure.net"
STORAGE_AUDIENCE = "https://storage.azure.com/"
MANAGEMENT_AUDIENCE = "https://management.azure.com/"
INSTANCE_API = "2021-02-01"
TOKEN_API = "2018-02-01"  # noqa: S105 - an API version
EVENTS_API = "2020-07-01"
VAULT_API = "7.4"
BLOB_API = "2021-08-06"
COMPUTE_API = "2024-07-01"
NETWORK_API = "2024-05-01"
# The node's record on its serial console, which Azure keeps as boot diagnostics and the CLI
# reads through Resource Manager (retrieveBootDiagnosticsData): one line, this prefix, JSON.
NODE_RECORD_PREFIX = "swarmstack-node "
CONSOLE = "/dev/console"  # Azure's images log their console to the serial port
CONSOLE_ENV = "NODE_AGENT_CONSOLE"  # tests and the local simulation: a file instead
# SSH host public keys, ed25519 first (paramiko asks a host for the first type known_hosts
# holds for it); the record joins "TYPE BASE64" with "," (swarmstack.known_hosts reads it).
HOST_KEY_FILES = tuple(
    f"{os.environ.get('NODE_AGENT_ROOT', '')}/etc/ssh/ssh_host_{kind}_key.pub"
    for kind in ("ed25519", "ecdsa")
)
# The template's value of a token secret before the first manager stores the real one.
PLACEHOLDER = "not-yet-set"
TOKEN_CHECK_ROUNDS = 12  # the leader compares the vault's tokens with the swarm's every minute


log = logging.getLogger("swarmstack-agent")


class AzureError(Exception):
    """An unexpected answer: the status and Azure's error code (never a body with secrets)."""

    def __init__(self, method: str, url: str, status: int, code: str) -> None:
        where = urllib.parse.urlsplit(url)
        super().__init__(f"azure: {method} {where.netloc}{where.path}: {status} {code}".strip())
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def request(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    expect: tuple[int, ...] = (200,),
    timeout: float = 10.0,
) -> Response:
    """One HTTP call; statuses outside ``expect`` raise AzureError."""
    call = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(call, timeout=timeout) as answer:  # noqa: S310
            response = Response(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        response = Response(error.code, dict(error.headers.items()), error.read())
    if response.status not in expect:
        raise AzureError(method, url, response.status, _error_code(response))
    return response


def _error_code(response: Response) -> str:
    code = response.headers.get("x-ms-error-code", "")
    if code:
        return code
    try:
        data = json.loads(response.body)
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


# --- the instance metadata service ------------------------------------------------------------


class Metadata:
    """IMDS: this instance's facts, its identity's tokens and its Scheduled Events.

    ``get`` answers the few AWS-shaped paths the agent's loops ask for (main.identity and
    main.configure), so both clouds share those loops unchanged.
    """

    def __init__(self, endpoint: str | None = None, authority: str | None = None) -> None:
        self.base = (endpoint or os.environ.get(IMDS_ENV) or IMDS_DEFAULT).rstrip("/")
        self.authority = (authority or os.environ.get(AUTHORITY_ENV) or self.base).rstrip("/")
        self._instance: dict[str, Any] | None = None
        self._tokens: dict[str, tuple[str, float]] = {}

    def instance(self) -> dict[str, Any]:
        if self._instance is None:
            url = f"{self.base}/metadata/instance?api-version={INSTANCE_API}"
            self._instance = request("GET", url, {"Metadata": "true"}).json()
        return self._instance or {}

    def compute(self) -> dict[str, Any]:
        return dict(self.instance().get("compute") or {})

    def tags(self) -> dict[str, str]:
        return {str(t["name"]): str(t["value"]) for t in self.compute().get("tagsList") or []}

    def tag(self, key: str) -> str | None:
        return self.tags().get(key)

    def address(self) -> str:
        interfaces = (self.instance().get("network") or {}).get("interface") or []
        for interface in interfaces:
            for address in (interface.get("ipv4") or {}).get("ipAddress") or []:
                if address.get("privateIpAddress"):
                    return str(address["privateIpAddress"])
        return ""

    def get(self, path: str) -> str | None:
        compute = self.compute()
        if path.startswith("meta-data/tags/instance/"):
            return self.tag(path.rsplit("/", 1)[1])
        value = {
            "meta-data/instance-id": compute.get("name"),
            "meta-data/placement/availability-zone": compute.get("zone") or "regional",
            "meta-data/placement/region": compute.get("location"),
            "meta-data/local-ipv4": self.address(),
        }.get(path)
        return str(value) if value else None

    def token(self, audience: str) -> str:
        """An access token of this instance's system-assigned identity, cached until near expiry."""
        cached = self._tokens.get(audience)
        if cached and cached[1] - 300 > time.time():
            return cached[0]
        query = urllib.parse.urlencode({"api-version": TOKEN_API, "resource": audience})
        url = f"{self.authority}/metadata/identity/oauth2/token?{query}"
        data = request("GET", url, {"Metadata": "true"}).json()
        token = str(data["access_token"])
        self._tokens[audience] = (token, float(data.get("expires_on") or time.time() + 600))
        return token

    def scheduled_events(self) -> list[dict[str, Any]]:
        url = f"{self.base}/metadata/scheduledevents?api-version={EVENTS_API}"
        data = request("GET", url, {"Metadata": "true"}).json() or {}
        return list(data.get("Events") or [])

    def approve(self, event_id: str) -> None:
        """Let Azure go ahead now instead of at NotBefore."""
        url = f"{self.base}/metadata/scheduledevents?api-version={EVENTS_API}"
        body = json.dumps({"StartRequests": [{"EventId": event_id}]}).encode()
        request(
            "POST",
            url,
            {"Metadata": "true", "Content-Type": "application/json"},
            body,
            expect=(200, 202, 204),
        )


# --- the cluster's state ----------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """Where this cluster's resources are, from the instance's own metadata."""

    subscription: str
    group: str
    cluster: str
    vault: str  # Key Vault name ("" when the deployment made none: not self-managing)
    storage: str  # storage account name

    @classmethod
    def of(cls, metadata: Metadata) -> Where:
        compute = metadata.compute()
        return cls(
            subscription=str(compute.get("subscriptionId", "")),
            group=str(compute.get("resourceGroupName", "")),
            cluster=metadata.tag(CLUSTER_TAG) or "",
            vault=metadata.tag(AZURE_VAULT_TAG) or "",
            storage=metadata.tag(AZURE_STORAGE_TAG) or "",
        )

    def resource_id(self, kind: str, name: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.group}"
            f"/providers/{kind}/{name}"
        )

    @property
    def scale_sets(self) -> tuple[tuple[str, str], ...]:
        """(role, scale set name), as the template names them."""
        return (("manager", f"{self.cluster}-managers"), ("worker", f"{self.cluster}-workers"))


class Cloud:
    """The node agent's cloud, as aws.Cloud offers it: leases, record and tokens, instances,
    leaving notices and published ports."""

    def __init__(self, metadata: Metadata, where: Where | None = None) -> None:
        self.metadata = metadata
        self.where = where or Where.of(metadata)
        self.vault_url = (
            os.environ.get(VAULT_ENV) or f"https://{self.where.vault}.vault.azure.net"
        ).rstrip("/")
        self.blob_url = (
            os.environ.get(BLOB_ENV) or f"https://{self.where.storage}.blob.core.windows.net"
        ).rstrip("/")
        self.management_url = (os.environ.get(MANAGEMENT_ENV) or MANAGEMENT).rstrip("/")
        self._completed: set[str] = set()  # leaving notices this process marked done

    def publish_node(self, me: NodeIdentity, ready: bool | None) -> None:
        """This node's record - its SSH host keys and whether it is Ready in the swarm (None:
        the agent does not form this swarm, `azure deploy` does over SSH) - as a
        line on the serial console: that needs no grant at all (only root on this VM writes
        its console), and the CLI can read it from outside the cluster's network (the vault
        and the storage account accept only the cluster's subnet). Never fails the boot."""
        try:
            record = host_key_record()
        except OSError as error:
            log.warning("host keys not published (%s)", error)
            return
        line = json.dumps(
            {
                "instance": me.instance_id,
                "role": me.role,
                "zone": me.zone,
                "address": me.address,
                "ready": ready,
                "host_keys": record,
            },
            sort_keys=True,
        )
        try:
            with open(os.environ.get(CONSOLE_ENV) or CONSOLE, "a", encoding="utf-8") as console:
                console.write(f"\n{NODE_RECORD_PREFIX}{line}\n")  # a line of its own
        except OSError as error:
            log.warning("node record not written to the console (%s)", error)

    @property
    def self_managing(self) -> bool:
        """The ARM template's nodes form their swarm; `azure deploy`'s get it over SSH."""
        return bool(self.where.vault and self.where.storage and self.where.cluster)

    # --- blobs -----------------------------------------------------------------------------

    def _blob_headers(self, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.metadata.token(STORAGE_AUDIENCE)}",
            "x-ms-version": BLOB_API,
            **extra,
        }

    def _blob(self, container: str, name: str = "") -> str:
        path = f"{container}/{urllib.parse.quote(name)}" if name else container
        return f"{self.blob_url}/{path}"

    def read_blob(self, container: str, name: str) -> str | None:
        response = request(
            "GET", self._blob(container, name), self._blob_headers(), expect=(200, 404)
        )
        return response.body.decode() if response.status == 200 else None

    def write_blob(
        self, container: str, name: str, text: str, *, create_only: bool = False
    ) -> bool:
        """True when written; with ``create_only``, False when the blob already existed (the
        one atomic step: If-None-Match: * succeeds for exactly one writer)."""
        headers = self._blob_headers(
            **{"x-ms-blob-type": "BlockBlob", "Content-Type": "application/json"}
        )
        if create_only:
            headers["If-None-Match"] = "*"
        response = request(
            "PUT",
            self._blob(container, name),
            headers,
            text.encode(),
            expect=(201, 409, 412) if create_only else (201,),
        )
        return response.status == 201

    def delete_blob(self, container: str, name: str) -> None:
        request("DELETE", self._blob(container, name), self._blob_headers(), expect=(202, 404))

    def list_blobs(self, container: str, prefix: str) -> list[str]:
        names: list[str] = []
        marker = ""
        while True:
            query = {"restype": "container", "comp": "list", "prefix": prefix}
            if marker:
                query["marker"] = marker
            url = f"{self._blob(container)}?{urllib.parse.urlencode(query)}"
            root = ElementTree.fromstring(request("GET", url, self._blob_headers()).body)  # noqa: S314 - our storage account
            names += [element.text or "" for element in root.iter("Name")]
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return names

    # --- leases, the swarm record and the join tokens ------------------------------------

    def leases(self, name: str) -> list[Lease]:
        found = []
        for blob in self.list_blobs(AZURE_STATE_CONTAINER, f"lease/{name}/"):
            generation = blob.rsplit("/", 1)[1]
            text = self.read_blob(AZURE_STATE_CONTAINER, blob) if generation.isdigit() else None
            if text is not None:
                found.append(Lease.from_json(int(generation), text))
        return found

    def create_lease(self, name: str, lease: Lease) -> bool:
        return self.write_blob(
            AZURE_STATE_CONTAINER,
            f"lease/{name}/{lease.generation:06d}",
            lease.to_json(),
            create_only=True,
        )

    def renew_lease(self, name: str, lease: Lease) -> None:
        self.write_blob(
            AZURE_STATE_CONTAINER, f"lease/{name}/{lease.generation:06d}", lease.to_json()
        )

    def swarm_record(self) -> SwarmRecord | None:
        text = self.read_blob(AZURE_STATE_CONTAINER, "swarm.json")
        return None if text is None else SwarmRecord.from_json(text)

    def put_swarm_record(self, record: SwarmRecord) -> None:
        self.write_blob(AZURE_STATE_CONTAINER, "swarm.json", record.to_json())

    def _secret_url(self, role: str) -> str:
        return f"{self.vault_url}/secrets/{AZURE_TOKEN_SECRETS[role]}?api-version={VAULT_API}"

    def _vault_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.metadata.token(VAULT_AUDIENCE)}",
            "Content-Type": "application/json",
        }

    def put_tokens(self, tokens: dict[str, str]) -> None:
        for role, token in tokens.items():
            body = json.dumps({"value": token, "contentType": f"docker swarm {role} join token"})
            request("PUT", self._secret_url(role), self._vault_headers(), body.encode())

    def token(self, role: str) -> str:
        value = str(request("GET", self._secret_url(role), self._vault_headers()).json()["value"])
        if value == PLACEHOLDER:
            raise AzureError("GET", self._secret_url(role), 409, "TokenNotStoredYet")
        return value

    # --- instances -------------------------------------------------------------------------

    def _arm(
        self, method: str, path: str, api: str, body: Any = None, expect: tuple[int, ...] = (200,)
    ) -> Response:
        separator = "&" if "?" in path else "?"
        url = f"{self.management_url}{path}{separator}api-version={api}"
        headers = {
            "Authorization": f"Bearer {self.metadata.token(MANAGEMENT_AUDIENCE)}",
            "Content-Type": "application/json",
        }
        payload = None if body is None else json.dumps(body).encode()
        return request(method, url, headers, payload, expect=expect, timeout=30.0)

    def _list(self, path: str, api: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        response = self._arm("GET", path, api, expect=(200, 404))
        while response.status == 200:
            data = response.json() or {}
            items += data.get("value") or []
            next_link = data.get("nextLink")
            if not next_link:
                break
            parts = urllib.parse.urlsplit(next_link)
            response = self._arm("GET", f"{parts.path}?{parts.query}", api)
        return items

    def instances(self) -> list[Instance]:
        """The scale sets' instances; deleting ones report as shutting-down."""
        found = []
        vmss = "Microsoft.Compute/virtualMachineScaleSets"
        for role, name in self.where.scale_sets:
            base = self.where.resource_id(vmss, name)
            vms = self._list(f"{base}/virtualMachines", COMPUTE_API)
            nics = self._list(f"{base}/networkInterfaces", NETWORK_API)
            found += instances_of(role, vms, nics)
        return found

    # --- the cluster's resources --------------------------------------------------------------

    def resources(self) -> StackResources:
        where = self.where
        return StackResources(
            queue_url=AZURE_LEAVING_CONTAINER,
            load_balancer=where.resource_id(
                "Microsoft.Network/loadBalancers", f"{where.cluster}-lb"
            ),
            load_balancer_group=where.resource_id(
                "Microsoft.Network/networkSecurityGroups", f"{where.cluster}-nsg"
            ),
            groups=where.scale_sets,
        )

    def signal_ready(self, role: str, instance_id: str) -> None:
        """ARM has no resource signals: deployments finish when the resources exist, and
        `swarmstack azure deploy` waits for the swarm itself."""

    # --- leaving notices: the leaving node posts one, the leader works through it ----------

    def post_leaving(self, event_id: str, instance: str, address: str) -> None:
        group = instance.rsplit("_", 1)[0]
        body = {"event": event_id, "instance": instance, "address": address, "group": group}
        self.write_blob(AZURE_LEAVING_CONTAINER, instance, json.dumps(body), create_only=True)

    def leaving_notice(self, instance: str) -> dict[str, Any] | None:
        text = self.read_blob(AZURE_LEAVING_CONTAINER, instance)
        return None if text is None else dict(json.loads(text))

    def notices(self, queue_url: str, wait: int = 5) -> list[Notice]:
        found = []
        for name in self.list_blobs(queue_url, ""):
            text = self.read_blob(queue_url, name)
            if text is not None:
                notice = parse_leaving(name, text)
                if notice is not None:
                    found.append(notice)
        return found

    def done_with(self, queue_url: str, notice: Notice) -> None:
        """Drop a notice; a completed one stays (marked done) for its node to see, which
        deletes it after approving its event."""
        if notice.receipt not in self._completed:
            self.delete_blob(queue_url, notice.receipt)

    def retry_later(self, queue_url: str, notice: Notice, seconds: int) -> None:
        """A notice stays until it is done; the leader reads it again next round."""

    def complete(self, notice: Notice) -> None:
        """Tell the leaving node it is out of the swarm; it approves its event itself (only
        a VM of the event's scale set may)."""
        body = {"event": notice.token, "instance": notice.instance_id, "group": notice.group}
        self._completed.add(notice.receipt)
        self.write_blob(AZURE_LEAVING_CONTAINER, notice.receipt, json.dumps({**body, "done": True}))

    def heartbeat(self, notice: Notice) -> None:
        """Scheduled Events cannot be extended: Azure goes ahead at NotBefore regardless."""

    # --- published ports: load-balancer rules and probes, security rules ------------------

    def managed_listeners(self, load_balancer: str) -> dict[int, tuple[str, str]]:
        """Port -> (rule name, probe name) of the rules serving a port: the agent's service
        rules, and the template's own rules of the spec's published ports - those exist
        already (Azure refuses a second rule with the same backend port and pool) and are
        never the agent's to remove."""
        balancer = self._arm("GET", load_balancer, NETWORK_API).json()
        found = {}
        for rule in (balancer.get("properties") or {}).get("loadBalancingRules") or []:
            port = (rule.get("properties") or {}).get("frontendPort")
            if isinstance(port, int):
                found[port] = (str(rule.get("name", "")), str(rule.get("name", "")))
        found.update(service_rules(balancer))
        return found

    def open_port(self, resources: StackResources, port: int, role: str) -> None:
        balancer = self._arm("GET", resources.load_balancer, NETWORK_API).json()
        pool = "apps" if role == "worker" else "managers"
        self._arm(
            "PUT", resources.load_balancer, NETWORK_API, with_port(balancer, port, pool), (200, 201)
        )
        nsg = self._arm("GET", resources.load_balancer_group, NETWORK_API).json()
        rule = service_security_rule(nsg, port)
        if rule is not None:
            self._arm(
                "PUT",
                f"{resources.load_balancer_group}/securityRules/{SERVICE_PREFIX}{port}",
                NETWORK_API,
                rule,
                (200, 201),
            )

    def close_port(self, resources: StackResources, port: int, listener: str, group: str) -> None:
        if not listener.startswith(SERVICE_PREFIX):
            return  # the template's rule of a spec port: only a deployment changes it
        balancer = self._arm("GET", resources.load_balancer, NETWORK_API).json()
        self._arm(
            "PUT", resources.load_balancer, NETWORK_API, without_port(balancer, port), (200, 201)
        )
        self._arm(
            "DELETE",
            f"{resources.load_balancer_group}/securityRules/{SERVICE_PREFIX}{port}",
            NETWORK_API,
            expect=(200, 202, 204),
        )


# --- every node: its own leaving --------------------------------------------------------------


def host_key_record() -> str:
    """The host keys present, "TYPE BASE64" (no comment: it names the host) joined by ","."""
    keys = []
    for path in HOST_KEY_FILES:
        try:
            with open(path, encoding="ascii") as file:
                keys.append(" ".join(file.read().split()[:2]))
        except FileNotFoundError:
            continue
    if not keys:
        raise FileNotFoundError("no SSH host key under /etc/ssh")
    return ",".join(keys)


class LeavingWatcher:
    """On a Terminate or Preempt event for this instance: post a leaving notice, wait for the
    leader to drain, demote and remove the node (it marks the notice done), then approve the
    event so Azure goes ahead at once."""

    def __init__(self, cloud: Cloud, instance: str, address: str) -> None:
        self.cloud = cloud
        self.instance = instance
        self.address = address

    def tick(self) -> str:
        """One look; returns what it did: none, posted, waiting or approved."""
        events = leaving_events(self.cloud.metadata.scheduled_events(), self.instance)
        if not events:
            return "none"
        event_id = str(events[0]["EventId"])
        notice = self.cloud.leaving_notice(self.instance)
        if notice is None or notice.get("event") != event_id:
            if notice is not None:  # an older event's notice (the instance was kept)
                self.cloud.delete_blob(AZURE_LEAVING_CONTAINER, self.instance)
            self.cloud.post_leaving(event_id, self.instance, self.address)
            return "posted"
        if not notice.get("done"):
            return "waiting"
        self.cloud.metadata.approve(event_id)
        self.cloud.delete_blob(AZURE_LEAVING_CONTAINER, self.instance)
        return "approved"


def keep_tokens(engine: Engine, cloud: Cloud) -> list[str]:
    """The leader keeps the vault's tokens equal to the swarm's: after a rotation, and after a
    redeployment of the template wrote its placeholders again. Returns the roles rewritten."""
    tokens = engine.join_tokens()
    stale = []
    for role in AZURE_TOKEN_SECRETS:
        try:
            stored = cloud.token(role)
        except AzureError as error:
            if error.code != "TokenNotStoredYet":
                raise
            stored = ""
        if stored != tokens[role]:
            stale.append(role)
    if stale:
        cloud.put_tokens({role: tokens[role] for role in stale})
    return stale


def run_node(command: str, settings: Settings) -> int:
    """Azure: the same loops through the Azure adapter. Every node also watches its own
    Scheduled Events: only a VM of the event's scale set may approve it."""
    from .engine import Engine as LocalEngine
    from .main import Booter, Healer, configure, identity

    metadata = Metadata()
    if command == "configure":
        configure(metadata, settings)
        return 0
    me = identity(metadata)
    cloud = Cloud(metadata)
    if not cloud.self_managing:
        cloud.publish_node(me, ready=None)  # the host keys, for the SSH bootstrap
        log.info("no Key Vault tag: this cluster's swarm is formed over SSH by swarmstack")
        return 0
    cloud.publish_node(me, ready=False)  # host keys first: SSH may come before Ready
    engine = LocalEngine()
    Booter(me, engine, cloud, settings).run()
    cloud.publish_node(me, ready=True)  # what `swarmstack azure deploy` waits for
    watcher = LeavingWatcher(cloud, me.instance_id, me.address)
    healer = Healer(me, engine, cloud, settings) if me.role == "manager" else None
    rounds = 0
    while True:
        for loop in (watcher, healer):
            try:
                if loop is not None:
                    loop.tick()
            except Exception:
                log.exception("round of %s failed; retrying", type(loop).__name__)
        rounds += 1
        if healer is not None and rounds % TOKEN_CHECK_ROUNDS == 0:
            try:
                if healer.is_leader():
                    for role in keep_tokens(engine, cloud):
                        log.info("the %s token in the vault was stale; stored again", role)
            except Exception:
                log.exception("checking the vault's tokens failed; retrying")
        time.sleep(5.0)


if __name__ == "__main__":  # Azure nodes: python3 -m swarmstack.provisioners.nodeagent.azure
    import logging
    import sys

    from .main import Settings as _Settings

    logging.basicConfig(level=logging.INFO, format="swarmstack-agent: %(message)s")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in ("configure", "run"):
        print("usage: swarmstack-agent configure|run", file=sys.stderr)
        sys.exit(2)
    from .main import AgentError

    try:
        sys.exit(run_node(command, _Settings.load()))
    except AgentError as error:
        log_error = logging.getLogger("swarmstack-agent")
        log_error.error("%s", error)
        sys.exit(1)
