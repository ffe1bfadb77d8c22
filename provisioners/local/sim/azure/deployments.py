"""Resource Manager's deployments API over any resource store: what `az deployment group
create`, azure-mgmt-resource's `deployments.begin_create_or_update` or a plain REST client use.

    PUT    /subscriptions/S/resourceGroups/G/providers/Microsoft.Resources/deployments/N
           -> 201, provisioningState Accepted, Azure-AsyncOperation: .../operationStatuses/OP
    GET    .../deployments/N/operationStatuses/OP   -> {"status": Running|Succeeded|Failed}
    GET    .../deployments/N                       -> the deployment, with its outputs
    GET    .../deployments/N/operations            -> one entry per resource PUT
    POST   .../deployments/N/validate              -> the template checked, nothing applied
    GET    .../deployments                         -> every deployment of the group
    DELETE .../deployments/N                       -> the record only (resources stay, as in Azure)

A bad template or parameter is refused at once (400, InvalidTemplate), before anything is
applied; a resource that fails later fails the deployment (DeploymentFailed, with the
resource's error in the details). The resources are PUT in a background thread, one at a time
in dependency order, through `store.put_resource`, which applies one PUT and returns when it
has succeeded (or raises ArmError). Secure parameters never appear in a reply.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .arm import AZURE_CLOUD, DeploymentScope, ResourcePut, TemplateDeployment
from .errors import ArmError
from .parameters import SECURE_TYPES
from .replies import Reply, error_reply

DEPLOYMENTS = ("providers", "microsoft.resources", "deployments")
DEPLOYMENT_NAME = re.compile(r"[-\w._()]{1,64}")
FAILED_MESSAGE = (
    "At least one resource deployment operation failed. Please list deployment operations "
    "for details."
)


class ResourceStore(Protocol):
    def resource_group(self, subscription_id: str, name: str) -> Mapping[str, Any] | None:
        """The group as its GET returns it (location, tags), or None."""
        ...

    def put_resource(self, put: ResourcePut) -> None:
        """Apply one PUT and return once it succeeded; raise ArmError when it is refused or
        fails."""
        ...

    def get_resource(self, resource_id: str) -> Mapping[str, Any] | None:
        """The resource as its GET returns it, or None (reference() reads it)."""
        ...


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Record:
    id: str
    name: str
    operation_id: str
    properties: dict[str, Any]
    operations: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def state(self) -> str:
        return str(self.properties["provisioningState"])

    def body(self) -> dict[str, Any]:
        """A copy, taken under the endpoint's lock (the runner thread updates the record)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Resources/deployments",
            "tags": dict(self.tags),
            "properties": copy.deepcopy(self.properties),
        }


class DeploymentsEndpoint:
    def __init__(
        self,
        store: ResourceStore,
        tenant_id: str,
        environment: Mapping[str, Any] = AZURE_CLOUD,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.environment = environment
        self.lock = threading.Lock()
        self.records: dict[str, _Record] = {}  # lower-case deployment id -> record

    @staticmethod
    def matches(path: str) -> bool:
        lower = [s.lower() for s in path.split("/") if s]
        return len(lower) >= 7 and lower[0] == "subscriptions" and tuple(lower[4:7]) == DEPLOYMENTS

    def handle(
        self, method: str, path: str, api_version: str | None, payload: Any, base_url: str
    ) -> Reply:
        """One request whose path `matches`; `path` without the query string."""
        segments = [s for s in path.split("/") if s]
        if not self.matches(path):
            return error_reply(404, "NotFound", f"no route {method} {path}")
        if api_version is None:
            return error_reply(
                400, "MissingApiVersionParameter", "The api-version query parameter is required."
            )
        subscription_id, group = segments[1], segments[3]
        group_body = self.store.resource_group(subscription_id, group)
        if group_body is None:
            return error_reply(
                404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
            )
        rest = [s.lower() for s in segments[7:]]
        if not rest:
            if method != "GET":
                return error_reply(405, "MethodNotAllowed", method)
            with self.lock:
                prefix = "/".join(["", *segments[:7]]).lower() + "/"
                value = [r.body() for key, r in self.records.items() if key.startswith(prefix)]
            return Reply(200, {"value": value})
        deployment_id = "/".join(["", *segments[:8]])
        name = segments[7]
        if len(rest) == 1 and method == "PUT":
            if not DEPLOYMENT_NAME.fullmatch(name):
                return error_reply(
                    400,
                    "InvalidDeploymentName",
                    f"The deployment name '{name}' is not valid: 1 to 64 letters, digits, "
                    "'-', '_', '.', '(' or ')'.",
                )
            scope = self._scope(subscription_id, group, group_body, name)
            return self._create(deployment_id, scope, payload, api_version, base_url)
        if len(rest) == 1 and method == "GET":
            record = self._record(deployment_id)
            if record is None:
                return error_reply(
                    404, "DeploymentNotFound", f"Deployment '{name}' could not be found."
                )
            with self.lock:
                return Reply(200, record.body())
        if len(rest) == 1 and method == "DELETE":
            return self._delete(deployment_id)
        if rest[1:] == ["validate"] and method == "POST":
            scope = self._scope(subscription_id, group, group_body, name)
            return self._validate(deployment_id, scope, payload)
        if len(rest) >= 2 and rest[1] in ("operationstatuses", "operations") and method == "GET":
            record = self._record(deployment_id)
            if record is None:
                return error_reply(
                    404, "DeploymentNotFound", f"Deployment '{name}' could not be found."
                )
            if rest[1] == "operations":
                with self.lock:
                    return Reply(200, {"value": copy.deepcopy(record.operations)})
            if rest[2:] != [record.operation_id.lower()]:
                return error_reply(404, "NotFound", f"no operation {'/'.join(rest[2:])}")
            return Reply(200, self._status(record))
        return error_reply(404, "NotFound", f"no route {method} {path}")

    def wait(self, deployment_id: str, timeout: float) -> str:
        """For in-process callers: the deployment's state once it finished (or at timeout)."""
        record = self._record(deployment_id)
        if record is None:
            raise KeyError(deployment_id)
        record.finished.wait(timeout)
        return record.state

    # --- requests ------------------------------------------------------------------------

    def _scope(
        self, subscription_id: str, group: str, group_body: Mapping[str, Any], name: str
    ) -> DeploymentScope:
        return DeploymentScope(
            subscription_id=subscription_id,
            resource_group=str(group_body.get("name") or group),
            location=str(group_body.get("location", "")),
            tenant_id=self.tenant_id,
            deployment_name=name,
            group_tags=dict(group_body.get("tags") or {}),
            environment=self.environment,
        )

    def _prepare(
        self, scope: DeploymentScope, payload: Any
    ) -> tuple[TemplateDeployment, str] | Reply:
        properties = payload.get("properties") if isinstance(payload, Mapping) else None
        if not isinstance(properties, Mapping):
            return error_reply(400, "InvalidRequestContent", "The request has no 'properties'.")
        if "templateLink" in properties or "parametersLink" in properties:
            return error_reply(
                400,
                "InvalidRequestContent",
                "templateLink and parametersLink are not supported by the simulation: send "
                "the template and parameters inline",
            )
        mode = str(properties.get("mode", "Incremental"))
        if mode.lower() != "incremental":
            return error_reply(
                400,
                "InvalidRequestContent",
                f"deployment mode '{mode}' is not supported by the simulation: use Incremental",
            )
        template = properties.get("template")
        if not isinstance(template, Mapping):
            return error_reply(
                400, "InvalidRequestContent", "properties.template must be an object."
            )
        values: dict[str, Any] = {}
        for key, entry in (properties.get("parameters") or {}).items():
            if not isinstance(entry, Mapping) or "value" not in entry:
                return error_reply(
                    400,
                    "InvalidRequestContent",
                    f"parameter '{key}': only {{\"value\": ...}} is supported (no Key Vault "
                    "references)",
                )
            values[key] = entry["value"]
        store = self.store
        try:
            deployment = TemplateDeployment(
                template, values, scope, lambda resource_id, _api: store.get_resource(resource_id)
            )
        except ArmError as error:
            return Reply(400, error.to_body())
        return deployment, mode

    def _create(
        self,
        deployment_id: str,
        scope: DeploymentScope,
        payload: Any,
        api_version: str,
        base_url: str,
    ) -> Reply:
        existing = self._record(deployment_id)
        if existing is not None and not existing.finished.is_set():
            return error_reply(
                409,
                "DeploymentActive",
                f"The deployment '{scope.deployment_name}' is still active; wait until it "
                "finishes.",
            )
        prepared = self._prepare(scope, payload)
        if isinstance(prepared, Reply):
            return prepared
        deployment, mode = prepared
        record = _Record(
            deployment_id,
            scope.deployment_name,
            uuid.uuid4().hex,
            {
                "provisioningState": "Accepted",
                "mode": mode,
                "timestamp": _now(),
                "correlationId": str(uuid.uuid4()),
                "parameters": _shown_parameters(deployment),
            },
            # A deployment's own tags (not its resources'), as Resource Manager keeps them.
            tags={str(k): str(v) for k, v in (payload.get("tags") or {}).items()},
        )
        accepted = record.body()  # before the thread moves it on to Running
        with self.lock:
            self.records[deployment_id.lower()] = record
        threading.Thread(
            target=self._run,
            args=(record, deployment),
            name=f"arm-deployment-{scope.deployment_name}",
            daemon=True,
        ).start()
        status_url = (
            f"{base_url}{deployment_id}/operationStatuses/{record.operation_id}"
            f"?api-version={api_version}"
        )
        return Reply(201, accepted, {"Azure-AsyncOperation": status_url, "Retry-After": "1"})

    def _validate(self, deployment_id: str, scope: DeploymentScope, payload: Any) -> Reply:
        prepared = self._prepare(scope, payload)
        if isinstance(prepared, Reply):
            return prepared
        deployment, mode = prepared
        return Reply(
            200,
            {
                "id": deployment_id,
                "name": scope.deployment_name,
                "type": "Microsoft.Resources/deployments",
                "properties": {
                    "provisioningState": "Succeeded",
                    "mode": mode,
                    "timestamp": _now(),
                    "parameters": _shown_parameters(deployment),
                    "validatedResources": [
                        {"id": r.resource_id} for r in deployment.order if r.enabled
                    ],
                },
            },
        )

    def _delete(self, deployment_id: str) -> Reply:
        with self.lock:
            record = self.records.get(deployment_id.lower())
            if record is None:
                return Reply(204)
            if not record.finished.is_set():
                return error_reply(409, "DeploymentActive", "The deployment is still active.")
            del self.records[deployment_id.lower()]
        return Reply(200)

    def _record(self, deployment_id: str) -> _Record | None:
        with self.lock:
            return self.records.get(deployment_id.lower())

    def _status(self, record: _Record) -> dict[str, Any]:
        with self.lock:
            state = record.state
            body: dict[str, Any] = {
                "id": record.operation_id,
                "status": "Running" if state in ("Accepted", "Running") else state,
            }
            if "error" in record.properties:
                body["error"] = record.properties["error"]
        return body

    # --- the deployment itself -------------------------------------------------------------

    def _run(self, record: _Record, deployment: TemplateDeployment) -> None:
        started = datetime.now(UTC)
        self._set(record, provisioningState="Running")
        applied: list[dict[str, str]] = []
        try:
            for put in deployment.puts():
                operation = self._operation(record, put)
                try:
                    self.store.put_resource(put)
                except ArmError as error:
                    self._finish_operation(record, operation, "Failed", error)
                    raise
                self._finish_operation(record, operation, "Succeeded", None)
                applied.append({"id": put.resource_id})
            outputs = deployment.outputs()
        except ArmError as error:
            self._set(
                record,
                provisioningState="Failed",
                error={
                    "code": "DeploymentFailed",
                    "message": FAILED_MESSAGE,
                    "details": [{"code": error.code, "message": error.message}],
                },
                outputResources=applied,
                duration=_duration(started),
            )
        except Exception as error:  # a bug in the store must still end the deployment
            self._set(
                record,
                provisioningState="Failed",
                error={
                    "code": "InternalServerError",
                    "message": f"{type(error).__name__}: {error}",
                },
                outputResources=applied,
                duration=_duration(started),
            )
        else:
            self._set(
                record,
                provisioningState="Succeeded",
                outputs=outputs,
                outputResources=applied,
                duration=_duration(started),
            )
        finally:
            record.finished.set()

    def _set(self, record: _Record, **properties: Any) -> None:
        with self.lock:
            record.properties.update(properties)

    def _operation(self, record: _Record, put: ResourcePut) -> dict[str, Any]:
        operation_id = uuid.uuid4().hex.upper()[:16]
        operation = {
            "id": f"{record.id}/operations/{operation_id}",
            "operationId": operation_id,
            "properties": {
                "provisioningOperation": "Create",
                "provisioningState": "Running",
                "timestamp": _now(),
                "targetResource": {
                    "id": put.resource_id,
                    "resourceType": put.type,
                    "resourceName": put.name,
                },
            },
        }
        with self.lock:
            record.operations.append(operation)
        return operation

    def _finish_operation(
        self, record: _Record, operation: dict[str, Any], state: str, error: ArmError | None
    ) -> None:
        with self.lock:
            operation["properties"]["provisioningState"] = state
            operation["properties"]["timestamp"] = _now()
            if error is not None:
                operation["properties"]["statusMessage"] = error.to_body()


def _shown_parameters(deployment: TemplateDeployment) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, value in deployment.parameter_values.items():
        kind = deployment.parameter_types[name]
        label = {"securestring": "SecureString", "secureobject": "SecureObject"}.get(
            kind, kind.capitalize()
        )
        shown[name] = {"type": label} if kind in SECURE_TYPES else {"type": label, "value": value}
    return shown


def _duration(started: datetime) -> str:
    return f"PT{(datetime.now(UTC) - started).total_seconds():.3f}S"
