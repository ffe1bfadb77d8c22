"""A fake Azure Resource Manager and Entra ID token endpoint, over HTTPS on 127.0.0.1.

Enough of the real protocol for the real SDK clients and azure-identity's client-secret flow:
OpenID discovery and the token endpoint; bearer tokens on every ARM call; api-version on every
request; resource groups; PUT/GET/DELETE of resources with the three long-running-operation
styles (Azure-AsyncOperation, Location, provisioningState in the body); 409 while an operation is
in progress; references to missing resources refused on PUT and deletes of referenced resources
refused (so dependency order is really checked); scale-set instances and NICs synthesized from
the capacity; inbound NAT port mappings. Failures, refusals and held operations are injected.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .replies import Reply, error_reply

# Long-running-operation style per resource type (lower case).
LRO_STYLE = {
    "microsoft.network/networksecuritygroups": "async",
    "microsoft.network/virtualnetworks": "async",
    "microsoft.network/publicipaddresses": "state",
    "microsoft.network/loadbalancers": "location",
    "microsoft.compute/virtualmachinescalesets": "async",
}
FAKE_PUBLIC_IP = "198.18.0.10"
# (access token, method, path) -> None when a token that is not the client's may make the call,
# else the refusal; set by the simulation, which hands out the instances' identity tokens.
Authorize = Callable[[str, str, str], "Reply | None"]
# (scale set id, instance ids) leaving the scale set: the simulation holds them for Scheduled
# Events and calls remove_instances later; without it they go at once.
OnLeaving = Callable[[str, list[str]], None]


@dataclass
class Operation:
    id: str
    resource_id: str  # lower case
    kind: str  # put | delete
    failure: tuple[str, str] | None = None
    polls_left: int = 1
    status: str = "InProgress"


@dataclass
class Request:
    method: str
    path: str
    api_version: str | None
    body: Any


class FakeAzure:
    """State and behaviour; `serve()` puts it on an HTTPS port."""

    def __init__(self, tenant_id: str, client_id: str, client_secret: str) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.token = uuid.uuid4().hex
        self.base_url = ""
        self.lock = threading.RLock()
        self.groups: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, Any]] = {}
        self.custom_data: dict[str, str] = {}
        self.instances: dict[str, list[dict[str, Any]]] = {}
        self.operations: dict[str, Operation] = {}
        self.requests: list[Request] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.log: list[tuple[str, str]] = []  # (event, resource name) in order
        self.failures: dict[str, tuple[str, str]] = {}
        self.refusals: dict[tuple[str, str], tuple[int, str, str]] = {}
        self.held: set[str] = set()
        self._ips = itertools.count(4)
        # Boot diagnostics: each instance's serial console log, by (scale set, instance id),
        # served at a SAS-style URL (no bearer token; the signature is the credential).
        self.serial_logs: dict[tuple[str, str], str] = {}
        # The simulation reads a machine's console instead (scale set, instance id -> text).
        self.read_serial_log: Callable[[str, str], str | None] | None = None
        self.sas_signature = uuid.uuid4().hex
        # The simulation's additions (the service tests leave them unset).
        self.instant = False  # operations end at once, as nobody may poll them
        self.authorize: Authorize | None = None
        self.on_leaving: OnLeaving | None = None
        self.secret_values: dict[str, str] = {}  # lower-case secret id -> value (write-only)
        self._next_instance: dict[str, int] = {}
        # Template deployments (Microsoft.Resources/deployments), when attached:
        # tests/service/fake_arm_deployments.py, sim/azure/world.py.
        self.deployments: Any = None

    # --- test controls -------------------------------------------------------------------

    def fail(self, name: str, code: str, message: str) -> None:
        """The next operation on the named resource ends Failed with this error."""
        self.failures[name.lower()] = (code, message)

    def refuse(self, method: str, name: str, status: int, code: str, message: str) -> None:
        """Requests of `method` on the named resource (or group) are refused at once."""
        self.refusals[(method, name.lower())] = (status, code, message)

    def hold(self, name: str) -> None:
        """Operations on the named resource stay InProgress until release()."""
        self.held.add(name.lower())

    def release(self, name: str) -> None:
        with self.lock:
            self.held.discard(name.lower())
            for operation in list(self.operations.values()):
                if (
                    operation.status == "InProgress"
                    and self._name(operation.resource_id) == name.lower()
                ):
                    operation.polls_left = 0
                    self._advance(operation)

    def puts(self, name: str) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.method == "PUT" and r.path.lower().endswith("/" + name.lower())
        ]

    def resource(self, name: str) -> dict[str, Any]:
        for resource_id, body in self.resources.items():
            if self._name(resource_id) == name.lower():
                return body
        raise KeyError(name)

    # --- dispatch ------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/")
        query = parse_qs(parts.query)
        segments = [s for s in path.split("/") if s]
        lower = [s.lower() for s in segments]
        if len(lower) >= 2 and lower[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid(segments[0])
        if lower[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
            return self._token(body)
        if lower[:1] == ["serial-logs"] and method == "GET":
            return self._serial_log(lower, query)
        if headers.get("Authorization") != f"Bearer {self.token}":
            bearer = str(headers.get("Authorization") or "").removeprefix("Bearer ")
            refused = (
                self.authorize(bearer, method, path)
                if self.authorize is not None and bearer
                else Reply(401)
            )
            if refused is not None:
                return (
                    refused
                    if refused.status != 401
                    else error_reply(
                        401, "InvalidAuthenticationToken", "The access token is missing or invalid."
                    )
                )
        payload = json.loads(body) if body else None
        with self.lock:
            self.requests.append(
                Request(method, path, next(iter(query.get("api-version", [])), None), payload)
            )
            if lower[:1] == ["fake"]:
                return self._poll(lower[1], lower[2])
            if len(lower) < 4 or lower[0] != "subscriptions" or lower[2] != "resourcegroups":
                return error_reply(404, "NotFound", f"no route {method} {path}")
            if "api-version" not in query:
                return error_reply(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter is required.",
                )
            group = lower[3]
            if len(lower) == 4:
                return self._group(method, path, group, payload)
            if group not in self.groups:
                return error_reply(
                    404,
                    "ResourceGroupNotFound",
                    f"Resource group '{segments[3]}' could not be found.",
                )
            if self.deployments is not None and self.deployments.matches(path):
                api_version = next(iter(query.get("api-version", [])), None)
                reply: Reply = self.deployments.handle(
                    method, path, api_version, payload, self.base_url
                )
                return reply
            if lower[4:] == ["resources"]:
                return self._list_group(group)
            if len(lower) == 8 and lower[4] == "providers":
                return self._resource(method, path, payload)
            if len(lower) == 9 and lower[6] == "virtualmachinescalesets" and method == "POST":
                if lower[8] != "delete":
                    return error_reply(404, "NotFound", f"no route {method} {path}")
                ids = [str(i) for i in (payload or {}).get("instanceIds") or []]
                return self._delete_instances("/".join(["", *lower[:8]]), ids)
            if len(lower) == 9 and lower[6] == "virtualmachinescalesets":
                return self._scale_set_children(path, lower[8])
            if len(lower) == 11 and lower[10] == "retrievebootdiagnosticsdata":
                return self._boot_diagnostics(segments)
            if len(lower) == 10 and lower[8] == "virtualmachines" and method == "DELETE":
                return self._delete_instances("/".join(["", *lower[:8]]), [lower[9]])
            if len(lower) == 11 and lower[10] == "queryinboundnatruleportmapping":
                return self._port_mapping(lower, payload)
            if len(lower) > 8 and lower[4] == "providers" and len(lower) % 2 == 0:
                return self._nested(method, path, payload)
            return error_reply(404, "NotFound", f"no route {method} {path}")

    # --- identity ------------------------------------------------------------------------

    def _openid(self, tenant: str) -> Reply:
        base = f"{self.base_url}/{tenant}"
        return Reply(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": "WW",
            },
        )

    def _token(self, body: bytes) -> Reply:
        form = parse_qs(body.decode())
        self.token_requests.append(form)
        if form.get("client_id") != [self.client_id] or form.get("client_secret") != [
            self.client_secret
        ]:
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
            )
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": self.token,
            },
        )

    # --- resource groups -----------------------------------------------------------------

    def _group(self, method: str, path: str, group: str, payload: Any) -> Reply:
        refused = self.refusals.get((method, group))
        if refused:
            return error_reply(*refused)
        if method == "HEAD":  # check_existence
            return Reply(204 if group in self.groups else 404)
        if method == "GET":
            if group not in self.groups:
                return error_reply(
                    404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
                )
            return Reply(200, self.groups[group])
        if method == "PUT":
            created = group not in self.groups
            self.groups[group] = {
                "id": path,
                "name": path.rsplit("/", 1)[-1],
                "type": "Microsoft.Resources/resourceGroups",
                "location": payload["location"],
                "tags": payload.get("tags") or {},
                "properties": {"provisioningState": "Succeeded"},
            }
            self.log.append(("created", group))
            return Reply(201 if created else 200, self.groups[group])
        if method == "DELETE":
            if group not in self.groups:
                return Reply(204)
            self.log.append(("delete requested", group))
            return self._start(group_id(path), "delete", group)
        return error_reply(405, "MethodNotAllowed", method)

    def _list_group(self, group: str) -> Reply:
        value = [
            {k: body[k] for k in ("id", "name", "type", "location", "tags") if k in body}
            for resource_id, body in self.resources.items()
            if resource_id.split("/")[4] == group
        ]
        return Reply(200, {"value": value})

    # --- resources -----------------------------------------------------------------------

    def _resource(self, method: str, path: str, payload: Any) -> Reply:
        resource_id = path.lower()
        name = self._name(resource_id)
        refused = self.refusals.get((method, name))
        if refused:
            return error_reply(*refused)
        busy = [
            o
            for o in self.operations.values()
            if o.resource_id == resource_id and o.status == "InProgress"
        ]
        existing = self.resources.get(resource_id)
        if method == "GET":
            if existing is None:
                return error_reply(404, "ResourceNotFound", f"The Resource '{path}' was not found.")
            for operation in busy:
                if LRO_STYLE.get(self._type(resource_id)) == "state":
                    self._advance(operation)
            return Reply(200, existing)
        if busy:
            return error_reply(
                409,
                "AnotherOperationInProgress",
                f"Another operation on this or dependent resource is in progress. {path}",
            )
        if method == "PUT":
            missing = [
                ref for ref in self._references(payload, resource_id) if ref not in self.resources
            ]
            if missing:
                return error_reply(
                    400,
                    "InvalidResourceReference",
                    f"Resource {missing[0]} referenced by {path} was not found.",
                )
            clash = _same_backend_rules(payload) if self._type(resource_id) == LB_TYPE else None
            if clash:
                return error_reply(400, "RulesUseSameBackendPortProtocolAndPool", clash)
            return self._put(path, resource_id, payload, existing is None)
        if method == "DELETE":
            if existing is None:
                return Reply(204)
            # What refers to it blocks the delete - except its own child and extension
            # resources (a role assignment scoped to it), which Azure deletes with it, and the
            # firewall rules of vaults and storage accounts that name a subnet: Azure does not
            # count those as uses of the network (the rule is left naming a missing subnet).
            users = [
                other
                for other, body in self.resources.items()
                if resource_id in self._references(body, other)
                and not other.startswith(resource_id + "/")
                and self._type(other) not in NETWORK_RULE_HOLDERS
            ]
            if users:
                return error_reply(
                    409, "InUseResourceCannotBeDeleted", f"{path} is in use by {users[0]}."
                )
            # Azure refuses (409) to delete a private DNS zone while virtual networks are still
            # linked to it, although the links are its child resources.
            if self._type(resource_id) == PRIVATE_DNS_ZONE_TYPE and any(
                other.startswith(resource_id + "/virtualnetworklinks/") for other in self.resources
            ):
                return error_reply(
                    409, "Conflict", f"{path} still has virtual network links; delete them first."
                )
            self.log.append(("delete requested", name))
            existing["properties"]["provisioningState"] = "Deleting"
            return self._start(resource_id, "delete", name)
        return error_reply(405, "MethodNotAllowed", method)

    def _put(self, path: str, resource_id: str, payload: dict[str, Any], created: bool) -> Reply:
        segments = path.split("/")
        body = copy.deepcopy(payload)
        profile = body.get("properties", {}).get("virtualMachineProfile", {})
        if "customData" in profile.get("osProfile", {}):
            self.custom_data[resource_id] = profile["osProfile"].pop("customData")  # write-only
        body.update({"id": path, "name": segments[-1], "type": resource_type(path)})
        self._identity(resource_id, body)
        body.setdefault("properties", {})["provisioningState"] = (
            "Creating" if created else "Updating"
        )
        body["etag"] = f'W/"{uuid.uuid4()}"'
        self._add_child_ids(path, body)
        self.resources[resource_id] = body
        self.log.append(("put", self._name(resource_id)))
        reply = self._start(resource_id, "put", self._name(resource_id))
        reply.status = 201 if created else 200
        reply.body = body
        return reply

    def _start(self, resource_id: str, kind: str, name: str) -> Reply:
        operation = Operation(uuid.uuid4().hex, resource_id, kind, self.failures.pop(name, None))
        self.operations[operation.id] = operation
        if self.instant:
            operation.polls_left = 0
            self._advance(operation)
        style = "location" if kind == "delete" else LRO_STYLE.get(self._type(resource_id), "async")
        if kind == "delete":
            return Reply(
                202,
                None,
                {"Location": f"{self.base_url}/fake/locations/{operation.id}", "Retry-After": "0"},
            )
        if style == "async":
            return Reply(
                201,
                None,
                {"Azure-AsyncOperation": f"{self.base_url}/fake/operations/{operation.id}"},
            )
        if style == "location":
            return Reply(201, None, {"Location": f"{self.base_url}/fake/locations/{operation.id}"})
        return Reply(201)

    def _poll(self, style: str, operation_id: str) -> Reply:
        operation = self.operations.get(operation_id)
        if operation is None:
            return error_reply(404, "NotFound", "no such operation")
        self._advance(operation)
        if style == "operations":
            body: dict[str, Any] = {
                "id": operation.id,
                "name": operation.id,
                "status": operation.status,
            }
            if operation.status == "Failed" and operation.failure:
                body["error"] = {"code": operation.failure[0], "message": operation.failure[1]}
            return Reply(200, body)
        if operation.status == "InProgress":
            return Reply(
                202,
                None,
                {"Location": f"{self.base_url}/fake/locations/{operation.id}", "Retry-After": "0"},
            )
        if operation.status == "Failed" and operation.failure:
            return error_reply(400, *operation.failure)
        if operation.kind == "delete":
            return Reply(204)
        return Reply(200, self.resources.get(operation.resource_id))

    def _advance(self, operation: Operation) -> None:
        if operation.status != "InProgress" or self._name(operation.resource_id) in self.held:
            return
        if operation.polls_left > 0:
            operation.polls_left -= 1
            return
        name = self._name(operation.resource_id)
        operation.status = "Failed" if operation.failure else "Succeeded"
        if operation.kind == "delete":
            if operation.status == "Succeeded":
                self.resources.pop(operation.resource_id, None)
                # Child and extension resources (role assignments scoped to it) go with it.
                for other in [
                    r for r in self.resources if r.startswith(operation.resource_id + "/")
                ]:
                    del self.resources[other]
                if operation.resource_id.count("/") == 4:  # a resource group
                    group = operation.resource_id.split("/")[4]
                    self.groups.pop(group, None)
                    for other in [r for r in self.resources if r.split("/")[4] == group]:
                        del self.resources[other]
                self.log.append(("deleted", name))
            return
        body = self.resources[operation.resource_id]
        body["properties"]["provisioningState"] = operation.status
        self.log.append((operation.status.lower(), name))
        if operation.status == "Succeeded":
            self._created(body)

    def _created(self, body: dict[str, Any]) -> None:
        """What Azure adds to a resource once it exists: read-only properties, instances."""
        kind, name, properties = body["type"].lower(), body["name"], body["properties"]
        if kind == "microsoft.network/publicipaddresses":
            properties["ipAddress"] = FAKE_PUBLIC_IP
        if kind == "microsoft.storage/storageaccounts":
            # The account's service endpoints, from its name (the public cloud's suffix).
            properties["primaryEndpoints"] = {
                service: f"https://{name}.{service}.core.windows.net/"
                for service in ("blob", "file", "queue", "table", "dfs", "web")
            }
        if kind == "microsoft.compute/virtualmachinescalesets":
            self._place_instances(body)

    # --- scale-set instances -------------------------------------------------------------

    def _place_instances(self, body: dict[str, Any]) -> None:
        existing = self.instances.get(body["id"].lower(), [])
        zones = body.get("zones") or [None]
        subnet_id = body["properties"]["virtualMachineProfile"]["networkProfile"][
            "networkInterfaceConfigurations"
        ][0]["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"].lower()
        vnet = self.resources[subnet_id.rsplit("/subnets/", 1)[0]]
        prefix = ipaddress.ip_network(
            vnet["properties"]["subnets"][0]["properties"]["addressPrefix"]
        )
        key = body["id"].lower()
        capacity = body["sku"]["capacity"]
        staying = [i for i in existing if not i.get("leaving")]
        instances = list(existing)
        if len(staying) > capacity:  # scale-in: the highest instance ids go, as Azure's default
            surplus = [i["instanceId"] for i in staying[capacity:]]
            if self.on_leaving is None:
                instances = [i for i in instances if i["instanceId"] not in surplus]
            else:
                self.on_leaving(key, surplus)
        while len([i for i in instances if not i.get("leaving")]) < capacity:
            index = self._next_instance.get(key, len(existing))
            self._next_instance[key] = index + 1
            instances.append(
                {
                    "instanceId": str(index),
                    "zone": zones[index % len(zones)],
                    "ip": str(prefix[next(self._ips)]),
                }
            )
        self.instances[key] = instances

    def _delete_instances(self, scale_set_id: str, instance_ids: list[str]) -> Reply:
        """Instance deletion (the capacity drops by as many): with the simulation's Scheduled
        Events the instances leave after their event; otherwise at once."""
        body = self.resources.get(scale_set_id)
        if body is None:
            return error_reply(
                404, "ResourceNotFound", f"The Resource '{scale_set_id}' was not found."
            )
        if not instance_ids:
            return error_reply(400, "InvalidParameter", "instanceIds: at least one instance id")
        known = {i["instanceId"] for i in self.instances.get(scale_set_id, [])}
        unknown = [i for i in instance_ids if i not in known]
        if unknown:
            return error_reply(
                404, "NotFound", f"instance {unknown[0]} of {body['name']} not found"
            )
        body["sku"]["capacity"] -= len(instance_ids)
        if self.on_leaving is not None:
            self.on_leaving(scale_set_id, instance_ids)
        else:
            self.remove_instances(scale_set_id, instance_ids)
        return Reply(200, None)  # accepted; the instances leave after their events

    def remove_instances(self, scale_set_id: str, instance_ids: list[str]) -> None:
        self.instances[scale_set_id] = [
            i for i in self.instances.get(scale_set_id, []) if i["instanceId"] not in instance_ids
        ]

    def mark_leaving(self, scale_set_id: str, instance_ids: list[str]) -> None:
        for instance in self.instances.get(scale_set_id, []):
            if instance["instanceId"] in instance_ids:
                instance["leaving"] = True

    # --- nested and extension resources (secrets, containers, role assignments, rules) -------

    def _nested(self, method: str, path: str, payload: Any) -> Reply:
        """Child and extension resources: stored as they are PUT, done at once."""
        resource_id = path.lower()
        if method == "GET":
            found = self.resources.get(resource_id)
            if found is None:
                return error_reply(404, "ResourceNotFound", f"The Resource '{path}' was not found.")
            return Reply(200, found)
        if method == "PUT":
            created = resource_id not in self.resources
            return Reply(201 if created else 200, self.apply(path, payload or {}))
        if method == "DELETE":
            parent = self._parent_rule_list(resource_id)
            if parent is not None:
                parent[:] = [r for r in parent if r["id"].lower() != resource_id]
            return Reply(200 if self.resources.pop(resource_id, None) is not None else 204)
        return error_reply(405, "MethodNotAllowed", method)

    def apply(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A PUT done at once (a template deployment's, or a nested resource's): the body as
        a GET returns it, write-only values kept aside."""
        resource_id = path.lower()
        segments = path.split("/")
        body = copy.deepcopy(payload)
        properties = body.setdefault("properties", {})
        tail = path.rsplit("/providers/", 1)[1].split("/")
        kind = "/".join([tail[0], *tail[1::2]])
        if kind.lower() == "microsoft.keyvault/vaults/secrets" and "value" in properties:
            self.secret_values[resource_id] = str(properties.pop("value"))
        profile = properties.get("virtualMachineProfile", {})
        if "customData" in profile.get("osProfile", {}):
            self.custom_data[resource_id] = profile["osProfile"].pop("customData")
        self._identity(resource_id, body)
        body.update({"id": path, "name": segments[-1], "type": kind})
        self._add_child_ids(path, body)
        properties["provisioningState"] = "Succeeded"
        self.resources[resource_id] = body
        parent = self._parent_rule_list(resource_id)
        if parent is not None:
            parent[:] = [r for r in parent if r["id"].lower() != resource_id]
            parent.append({"id": path, "name": segments[-1], "properties": body["properties"]})
        self.log.append(("put", self._name(resource_id)))
        self._created(body)
        return body

    def _identity(self, resource_id: str, body: dict[str, Any]) -> None:
        """A system-assigned identity gets its principal once and keeps it across PUTs."""
        identity = body.get("identity")
        if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
            previous = (self.resources.get(resource_id) or {}).get("identity") or {}
            identity["principalId"] = previous.get("principalId") or str(uuid.uuid4())
            identity["tenantId"] = self.tenant_id

    def _parent_rule_list(self, resource_id: str) -> list[dict[str, Any]] | None:
        """A security group's own list of rules, for a rule PUT or deleted on its own."""
        parent, _, kind = resource_id.rpartition("/")[0].rpartition("/")
        if kind != "securityrules" or parent not in self.resources:
            return None
        rules: list[dict[str, Any]] = self.resources[parent]["properties"].setdefault(
            "securityRules", []
        )
        return rules

    def _scale_set_children(self, path: str, child: str) -> Reply:
        scale_set_id = path.lower().rsplit("/", 1)[0]
        body = self.resources.get(scale_set_id)
        if body is None:
            return error_reply(
                404, "ResourceNotFound", f"The Resource '{scale_set_id}' was not found."
            )
        prefix = body["properties"]["virtualMachineProfile"]["osProfile"]["computerNamePrefix"]
        base = body["id"]
        value = []
        for instance in self.instances.get(scale_set_id, []):
            vm_id = f"{base}/virtualMachines/{instance['instanceId']}"
            if child == "virtualmachines":
                value.append(
                    {
                        "id": vm_id,
                        "name": f"{body['name']}_{instance['instanceId']}",
                        "instanceId": instance["instanceId"],
                        "zones": [instance["zone"]] if instance["zone"] else [],
                        "properties": {
                            # Held by its Terminate event (the simulation's Scheduled Events)
                            "provisioningState": (
                                "Deleting" if instance.get("leaving") else "Succeeded"
                            ),
                            "osProfile": {
                                "computerName": f"{prefix}{int(instance['instanceId']):06d}"
                            },
                        },
                    }
                )
            else:
                nic_id = f"{vm_id}/networkInterfaces/nic"
                value.append(
                    {
                        "id": nic_id,
                        "name": "nic",
                        "properties": {
                            "virtualMachine": {"id": vm_id},
                            "ipConfigurations": [
                                {
                                    "id": f"{nic_id}/ipConfigurations/ipconfig",
                                    "name": "ipconfig",
                                    "properties": {
                                        "privateIPAddress": instance["ip"],
                                        "primary": True,
                                    },
                                }
                            ],
                        },
                    }
                )
        return Reply(200, {"value": value})

    def _boot_diagnostics(self, segments: list[str]) -> Reply:
        """POST .../virtualMachineScaleSets/S/virtualMachines/N/retrieveBootDiagnosticsData."""
        scale_set, instance = segments[7].lower(), segments[9]
        if not any(i["instanceId"] == instance for i in self._instances_of(scale_set)):
            return error_reply(404, "NotFound", f"instance {instance} of {scale_set} not found")
        url = f"{self.base_url}/serial-logs/{scale_set}/{instance}?sv=2022-11-02&sig="
        return Reply(
            200,
            {
                "consoleScreenshotBlobUri": url.replace("serial-logs", "screenshots"),
                "serialConsoleLogBlobUri": url + self.sas_signature,
            },
        )

    def _instances_of(self, scale_set: str) -> list[dict[str, Any]]:
        found = [v for k, v in self.instances.items() if k.endswith(f"/{scale_set}")]
        return found[0] if found else []

    def _serial_log(self, lower: list[str], query: dict[str, list[str]]) -> Reply:
        if query.get("sig") != [self.sas_signature] or len(lower) != 3:
            return error_reply(403, "AuthenticationFailed", "Signature did not match.")
        text = self.serial_logs.get((lower[1], lower[2]))
        if text is None and self.read_serial_log is not None:
            text = self.read_serial_log(lower[1], lower[2])
        if text is None:
            return error_reply(404, "BlobNotFound", "The specified blob does not exist.")
        return Reply(200, text.encode())

    def _port_mapping(self, lower: list[str], payload: Any) -> Reply:
        lb = self.resources.get("/".join(["", *lower[:8]]))
        if lb is None:
            return error_reply(404, "ResourceNotFound", "load balancer not found")
        pool = lower[9]
        ip_config = payload["ipConfiguration"]["id"].lower()
        scale_set_id, _, rest = ip_config.partition("/virtualmachines/")
        instance = rest.split("/", 1)[0]
        scale_set = self.resources.get(scale_set_id)
        pool_id = f"{lb['id']}/backendAddressPools/{pool}".lower()
        pools = (
            [
                p["id"].lower()
                for p in scale_set["properties"]["virtualMachineProfile"]["networkProfile"][
                    "networkInterfaceConfigurations"
                ][0]["properties"]["ipConfigurations"][0]["properties"][
                    "loadBalancerBackendAddressPools"
                ]
            ]
            if scale_set
            else []
        )
        if pool_id not in pools:
            return error_reply(400, "InvalidRequest", f"{ip_config} is not in backend pool {pool}")
        mappings = []
        for rule in lb["properties"].get("inboundNatRules", []):
            properties = rule["properties"]
            if properties.get("backendAddressPool", {}).get("id", "").lower() == pool_id:
                mappings.append(
                    {
                        "inboundNatRuleName": rule["name"],
                        "protocol": properties["protocol"],
                        "frontendPort": properties["frontendPortRangeStart"] + int(instance),
                        "backendPort": properties["backendPort"],
                    }
                )
        return Reply(200, {"inboundNatRulePortMappings": mappings})

    # --- helpers -------------------------------------------------------------------------

    def _add_child_ids(self, path: str, body: dict[str, Any]) -> None:
        kinds = {
            "subnets": "subnets",
            "frontendIPConfigurations": "frontendIPConfigurations",
            "backendAddressPools": "backendAddressPools",
            "probes": "probes",
            "loadBalancingRules": "loadBalancingRules",
            "inboundNatRules": "inboundNatRules",
            "outboundRules": "outboundRules",
            "securityRules": "securityRules",
        }
        for key, kind in kinds.items():
            for child in body.get("properties", {}).get(key, []):
                child["id"] = f"{path}/{kind}/{child['name']}"

    @staticmethod
    def _references(body: Any, own_id: str) -> set[str]:
        """Other top-level resources (lower-case ids) that a body refers to."""
        found: set[str] = set()
        for value in _strings(body):
            if value.lower().startswith("/subscriptions/"):
                parts = value.lower().split("/")
                if len(parts) >= 9 and parts[5] == "providers":
                    found.add("/".join(parts[:9]))
        return found - {own_id}

    @staticmethod
    def _name(resource_id: str) -> str:
        return resource_id.rsplit("/", 1)[-1].lower()

    @staticmethod
    def _type(resource_id: str) -> str:
        parts = resource_id.lower().split("/")
        return f"{parts[6]}/{parts[7]}" if len(parts) > 7 else ""


LB_TYPE = "microsoft.network/loadbalancers"
PRIVATE_DNS_ZONE_TYPE = "microsoft.network/privatednszones"


def _same_backend_rules(balancer: Any) -> str | None:
    """Azure refuses two load-balancing rules with the same protocol and backend port on the
    same backend pool; the message names both, as Azure's does."""
    seen: dict[tuple[str, Any, str], str] = {}
    rules = ((balancer or {}).get("properties") or {}).get("loadBalancingRules") or []
    for rule in rules:
        properties = rule.get("properties") or {}
        pool = str((properties.get("backendAddressPool") or {}).get("id", "")).lower()
        key = (str(properties.get("protocol", "")).lower(), properties.get("backendPort"), pool)
        if key in seen:
            return (
                f"Load balancing rules {seen[key]} and {rule.get('name')} use the same protocol "
                f"{properties.get('protocol')} and backend port {properties.get('backendPort')}, "
                "and must not be used with the same backend address pool."
            )
        seen[key] = str(rule.get("name"))
    return None


# Resource types whose network rules name subnets without using them (see DELETE).
NETWORK_RULE_HOLDERS = frozenset({"microsoft.keyvault/vaults", "microsoft.storage/storageaccounts"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def resource_type(path: str) -> str:
    """'NS/type[/child...]' of an id, also of a child or an extension resource (the part
    after the last /providers/)."""
    namespace, *rest = path.rsplit("/providers/", 1)[-1].split("/")
    return "/".join([namespace, *rest[0::2]])


def group_id(path: str) -> str:
    return path.lower()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake.handle(self.command, self.path, self.headers, body)
        raw = isinstance(reply.body, bytes)  # a blob's content, as it is
        data = b"" if reply.body is None else reply.body if raw else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        kind = "application/octet-stream" if raw else "application/json; charset=utf-8"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAzure


def serve(fake: FakeAzure, cert: Path, key: Path) -> tuple[_Server, str]:
    """Start the fake on a free 127.0.0.1 port; returns the server and its base URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="fake-azure", daemon=True).start()
    return server, fake.base_url
