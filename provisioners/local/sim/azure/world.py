"""The simulated Azure a cluster's machines live in: the fake Resource Manager plus what its
resources do - scale-set instances with identities and instance metadata, Key Vault secrets,
blobs, Scheduled Events - with access decided by the deployment's role assignments.

One object, one lock (the Resource Manager's); the HTTP servers (servers.py) and the machine
controller (controller.py) call into it. Pure of sockets and machines, so it is unit-tested
on its own.

- A token from an instance's IMDS stands for its scale set's system-assigned identity (the
  principalId Resource Manager gave it); every data-plane call and every Resource Manager call
  with such a token needs a role assignment whose scope contains the resource (Key Vault
  Secrets User/Officer, Storage Blob Data Reader/Contributor, Reader, Network Contributor),
  else 403 as Azure answers.
- An instance leaving its scale set (scale-in, instance delete) gets a Terminate event,
  delivered to every instance of the scale set, when the scale set has a terminate
  notification profile; it goes once an instance of the scale set approves the event or at
  NotBefore (notBeforeTimeout after the request), as Azure does. Without a profile it goes at
  once.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from .arm import ResourcePut
from .blob_store import Blobs, blob_reply
from .deployments import DeploymentsEndpoint
from .node_cloud import ALLOWS, ROLE_NAMES
from .replies import Reply
from .resource_manager import FakeAzure

TENANT = "72f988bf-0000-4000-8000-00000000a2e1"
CLIENT_ID = "5e1f0000-0000-4000-8000-00000000c11e"
# The simulation's client secret: not a secret (the simulation is local), printed for users.
CLIENT_SECRET = "swarmstack-simulation"  # noqa: S105
SUBSCRIPTION = "00000000-0000-4000-8000-00000000a2e1"
LOCATION = "westeurope"
VMSS = "microsoft.compute/virtualmachinescalesets"
ROLE_ASSIGNMENT = "/providers/microsoft.authorization/roleassignments/"
TOKEN_LIFETIME = 3600
DEFAULT_NOT_BEFORE = 300  # seconds; Azure's notBeforeTimeout ranges over PT5M..PT15M


@dataclass
class Leaving:
    """An instance leaving its scale set, held by its Terminate event."""

    scale_set: str  # lower-case id
    instance_id: str
    event_id: str
    deadline: float
    not_before: str
    approved: bool = False


@dataclass
class Place:
    """Where a machine's requests come from: its scale set and instance."""

    scale_set: str  # lower-case id
    instance_id: str


@dataclass
class World:
    rm: FakeAzure = field(default_factory=lambda: FakeAzure(TENANT, CLIENT_ID, CLIENT_SECRET))
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> principal id
    blobs: Blobs = field(default_factory=dict)  # (account, container, name) -> body
    leaving: dict[tuple[str, str], Leaving] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)  # machine address -> place
    denied: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rm.instant = True
        self.rm.authorize = self.authorize_arm
        self.rm.on_leaving = self.on_leaving
        self.lock = self.rm.lock
        # Template deployments: their PUTs applied at once, each under the lock.
        self.rm.deployments = DeploymentsEndpoint(WorldStore(self), TENANT)

    # --- scale sets and instances ---------------------------------------------------------

    def scale_sets(self) -> list[dict[str, Any]]:
        return [b for rid, b in self.rm.resources.items() if _type(rid) == VMSS]

    def instance_name(self, scale_set: str, instance_id: str) -> str:
        return f"{self.rm.resources[scale_set]['name']}_{instance_id}"

    def computer_name(self, scale_set: str, instance_id: str) -> str:
        """PREFIX + the instance id in base 36, six digits: Azure's scale-set host names."""
        body = self.rm.resources[scale_set]
        profile = body["properties"].get("virtualMachineProfile", {}).get("osProfile", {})
        prefix = str(profile.get("computerNamePrefix") or body["name"]).lower()
        number, digits = int(instance_id), ""
        while True:
            number, digit = divmod(number, 36)
            digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
            if number == 0:
                return f"{prefix}{digits.rjust(6, '0')}"

    def set_address(self, scale_set: str, instance_id: str, address: str) -> None:
        """The instance's private IP becomes its machine's (NIC listings, IMDS agree)."""
        with self.lock:
            for instance in self.rm.instances.get(scale_set, []):
                if instance["instanceId"] == instance_id:
                    instance["ip"] = address
            self.places[address] = Place(scale_set, instance_id)

    def forget_address(self, address: str) -> None:
        with self.lock:
            self.places.pop(address, None)

    # --- Scheduled Events --------------------------------------------------------------------

    def on_leaving(self, scale_set: str, instance_ids: list[str]) -> None:
        body = self.rm.resources[scale_set]
        profile = (
            body["properties"]
            .get("virtualMachineProfile", {})
            .get("scheduledEventsProfile", {})
            .get("terminateNotificationProfile", {})
        )
        if not profile.get("enable"):
            self.rm.remove_instances(scale_set, instance_ids)
            return
        self.rm.mark_leaving(scale_set, instance_ids)
        wait = duration_seconds(str(profile.get("notBeforeTimeout") or "")) or DEFAULT_NOT_BEFORE
        deadline = time.time() + wait
        for instance_id in instance_ids:
            self.leaving[(scale_set, instance_id)] = Leaving(
                scale_set,
                instance_id,
                str(uuid.uuid4()).upper(),
                deadline,
                formatdate(deadline, usegmt=True),
            )

    def events_for(self, scale_set: str) -> list[dict[str, Any]]:
        """The scale set's pending Terminate events, as every instance of it sees them."""
        return [
            {
                "EventId": leaving.event_id,
                "EventType": "Terminate",
                "ResourceType": "VirtualMachine",
                "Resources": [self.instance_name(scale_set, leaving.instance_id)],
                "EventStatus": "Scheduled",
                "NotBefore": leaving.not_before,
                "Description": "Virtual machine is being deleted.",
                "EventSource": "User",
                "DurationInSeconds": -1,
            }
            for leaving in self.leaving.values()
            if leaving.scale_set == scale_set and not leaving.approved
        ]

    def approve(self, scale_set: str, event_ids: list[str]) -> bool:
        """A StartRequest: only an instance of the event's scale set may approve it."""
        found = False
        for leaving in self.leaving.values():
            if leaving.scale_set == scale_set and leaving.event_id in event_ids:
                leaving.approved = found = True
        return found

    def settle_leaving(self, now: float | None = None) -> list[str]:
        """Instances whose event was approved or reached NotBefore leave; their names."""
        moment = time.time() if now is None else now
        gone = []
        with self.lock:
            for key, leaving in list(self.leaving.items()):
                if leaving.approved or moment >= leaving.deadline:
                    if leaving.scale_set in self.rm.resources:
                        gone.append(self.instance_name(leaving.scale_set, leaving.instance_id))
                    self.rm.remove_instances(leaving.scale_set, [leaving.instance_id])
                    del self.leaving[key]
        return gone

    # --- instance metadata -------------------------------------------------------------------

    def place_of(self, address: str) -> Place | None:
        place = self.places.get(address)
        if place is None or place.scale_set not in self.rm.resources:
            return None
        ids = {i["instanceId"] for i in self.rm.instances.get(place.scale_set, [])}
        return place if place.instance_id in ids else None

    def instance_document(self, place: Place) -> dict[str, Any]:
        body = self.rm.resources[place.scale_set]
        instance = next(
            i for i in self.rm.instances[place.scale_set] if i["instanceId"] == place.instance_id
        )
        parts = body["id"].split("/")
        tags = body.get("tags") or {}
        return {
            "compute": {
                "name": self.instance_name(place.scale_set, place.instance_id),
                "vmScaleSetName": body["name"],
                "osProfile": {
                    "computerName": self.computer_name(place.scale_set, place.instance_id)
                },
                "zone": instance.get("zone") or "",
                "location": body.get("location", LOCATION),
                "subscriptionId": parts[2],
                "resourceGroupName": parts[4],
                "resourceId": f"{body['id']}/virtualMachines/{place.instance_id}",
                "vmSize": (body.get("sku") or {}).get("name", ""),
                "tags": ";".join(f"{k}:{v}" for k, v in tags.items()),
                "tagsList": [{"name": k, "value": v} for k, v in tags.items()],
            },
            "network": {
                "interface": [
                    {
                        "ipv4": {
                            "ipAddress": [
                                {"privateIpAddress": instance["ip"], "publicIpAddress": ""}
                            ]
                        }
                    }
                ]
            },
        }

    def issue_token(self, place: Place, resource: str) -> dict[str, Any] | None:
        """A token of the scale set's system-assigned identity; None without one."""
        identity = self.rm.resources[place.scale_set].get("identity") or {}
        principal = identity.get("principalId")
        if not principal:
            return None
        token = uuid.uuid4().hex
        self.tokens[token] = str(principal)
        expires = int(time.time()) + TOKEN_LIFETIME
        return {
            "access_token": token,
            "client_id": str(uuid.uuid5(uuid.NAMESPACE_URL, str(principal))),
            "expires_in": str(TOKEN_LIFETIME),
            "expires_on": str(expires),
            "not_before": str(expires - TOKEN_LIFETIME),
            "resource": resource,
            "token_type": "Bearer",
        }

    def handle_imds(self, address: str, method: str, path: str, body: bytes) -> Reply:
        """Instance metadata and Scheduled Events (tokens: handle_token)."""
        with self.lock:
            place = self.place_of(address)
            if place is None:
                return Reply(404, {"error": "not_found", "error_description": address})
            if path == "/metadata/instance" and method == "GET":
                return Reply(200, self.instance_document(place))
            if path == "/metadata/scheduledevents" and method == "GET":
                events = self.events_for(place.scale_set)
                return Reply(200, {"DocumentIncarnation": len(events), "Events": events})
            if path == "/metadata/scheduledevents" and method == "POST":
                try:
                    starts = json.loads(body)["StartRequests"]
                    ids = [str(s["EventId"]) for s in starts]
                except (ValueError, KeyError, TypeError):
                    return Reply(400, {"error": "BadRequest"})
                return Reply(200 if self.approve(place.scale_set, ids) else 400, None)
            return Reply(404, {"error": "not_found", "error_description": path})

    def handle_token(self, address: str, resource: str) -> Reply:
        with self.lock:
            place = self.place_of(address)
            if place is None:
                return Reply(404, {"error": "not_found"})
            answer = self.issue_token(place, resource)
            if answer is None:
                return Reply(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Identity not found",
                    },
                )
            return Reply(200, answer)

    # --- access -------------------------------------------------------------------------------

    def allowed(self, token: str, kind: str, target: str, action: str) -> bool:
        """A role assignment of the token's principal whose scope contains ``target`` and
        whose role allows ``action`` on a ``kind`` (secret, container or arm)."""
        principal = self.tokens.get(token)
        if principal is None:
            return False
        target = target.lower().rstrip("/") + "/"
        for rid, body in self.rm.resources.items():
            if ROLE_ASSIGNMENT not in rid:
                continue
            properties = body.get("properties") or {}
            if str(properties.get("principalId", "")).lower() != principal.lower():
                continue
            scope = rid.split(ROLE_ASSIGNMENT)[0] + "/"
            role = ROLE_NAMES.get(str(properties.get("roleDefinitionId", "")).rsplit("/", 1)[-1])
            if role is None or not target.startswith(scope):
                continue
            if (kind, action) in ALLOWS[role]:
                return True
        return False

    def authorize_arm(self, token: str, method: str, path: str) -> Reply | None:
        action = "read" if method == "GET" else "write"
        target = path.split("?")[0]
        with self.lock:
            if token not in self.tokens:
                return Reply(401)
            if self.allowed(token, "arm", target, action):
                return None
            self.denied.append(f"{method} {target}")
        code = "AuthorizationFailed"
        return Reply(403, {"error": {"code": code, "message": f"no {action} on {target}"}})

    def _deny(self, token: str, what: str, code: str) -> Reply:
        self.denied.append(f"{self.tokens.get(token, '?')} {what}")
        return Reply(403, {"error": {"code": code, "message": what}}, {"x-ms-error-code": code})

    # --- Key Vault ----------------------------------------------------------------------------

    def _vault_id(self, vault: str) -> str | None:
        for rid, body in self.rm.resources.items():
            if _type(rid) == "microsoft.keyvault/vaults" and body["name"].lower() == vault.lower():
                return rid
        return None

    def handle_vault(self, token: str, vault: str, method: str, rest: str, body: bytes) -> Reply:
        with self.lock:
            if token not in self.tokens:
                return Reply(401, {"error": {"code": "Unauthorized", "message": "no token"}})
            vault_id = self._vault_id(vault)
            secret = rest.removeprefix("secrets/").split("/")[0]
            if vault_id is None or not rest.startswith("secrets/") or not secret:
                return Reply(404, {"error": {"code": "NotFound", "message": vault}})
            secret_id = f"{vault_id}/secrets/{secret.lower()}"
            action = "read" if method == "GET" else "write"
            if not self.allowed(token, "secret", secret_id, action):
                return self._deny(token, f"{action} secret {secret}", "Forbidden")
            if method == "GET":
                if secret_id not in self.rm.secret_values:
                    return Reply(404, {"error": {"code": "SecretNotFound", "message": secret}})
                return Reply(200, {"value": self.rm.secret_values[secret_id], "id": secret})
            if method == "PUT":
                try:
                    value = str(json.loads(body)["value"])
                except (ValueError, KeyError, TypeError):
                    return Reply(400, {"error": {"code": "BadParameter", "message": "value"}})
                self.rm.secret_values[secret_id] = value
                return Reply(200, {"id": secret, "attributes": {"enabled": True}})
            return Reply(405, {"error": {"code": "MethodNotAllowed", "message": method}})

    # --- blobs --------------------------------------------------------------------------------

    def _container_id(self, account: str, container: str) -> str | None:
        for rid, body in self.rm.resources.items():
            if (
                _type(rid) == "microsoft.storage/storageaccounts/blobservices/containers"
                and rid.split("/")[8] == account.lower()
                and body["name"].lower() == container.lower()
            ):
                return rid
        return None

    def handle_blob(
        self,
        token: str,
        account: str,
        method: str,
        rest: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Reply:
        with self.lock:
            if token not in self.tokens:
                return Reply(401, None, {"x-ms-error-code": "NoAuthenticationInformation"})
            container, _, name = rest.partition("/")
            container_id = self._container_id(account, container)
            if container_id is None:
                return Reply(404, None, {"x-ms-error-code": "ContainerNotFound"})
            action = "read" if method == "GET" else "write"
            if not self.allowed(token, "container", container_id, action):
                return self._deny(
                    token, f"{action} {container}/{name}", "AuthorizationPermissionMismatch"
                )
            return blob_reply(
                self.blobs, (account.lower(), container.lower()), name, method, query, headers, body
            )


class WorldStore:
    """The deployments endpoint's resource store: the world's Resource Manager."""

    def __init__(self, world: World) -> None:
        self.world = world

    def resource_group(self, subscription_id: str, name: str) -> Mapping[str, Any] | None:
        with self.world.lock:
            group = self.world.rm.groups.get(name.lower())
            return copy.deepcopy(group) if group else None

    def get_resource(self, resource_id: str) -> Mapping[str, Any] | None:
        with self.world.lock:
            body = self.world.rm.resources.get(resource_id.lower())
            return copy.deepcopy(body) if body else None

    def put_resource(self, put: ResourcePut) -> None:
        with self.world.lock:
            self.world.rm.apply(put.resource_id, copy.deepcopy(put.body))


def _type(resource_id: str) -> str:
    tail = resource_id.lower().rsplit("/providers/", 1)[-1].split("/")
    return "/".join([tail[0], *tail[1::2]])


def duration_seconds(duration: str) -> int:
    """PT5M, PT15M, PT90S, PT1H -> seconds (0 when not understood)."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration.upper())
    if not match or not any(match.groups()):
        return 0
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
