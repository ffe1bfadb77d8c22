"""One template deployment (Microsoft.Resources/deployments) of the cluster's ARM template.

`azure deploy` submits exactly what `swarmstack azure template` prints, as `az deployment
group create` would, so the CLI and a by-hand deployment create the same resources: the
network, the scale sets, and the Key Vault, storage and role assignments the node agents need
to form and heal the swarm themselves. The REST calls go through the resource client's own
pipeline (credential, retries, endpoint): azure-mgmt-resource keeps deployments in a separate
package since version 24, and these four calls do not need it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import SwarmstackError
from ..stepgraph import Event
from .clients import AzureClients
from .failures import Failure, azure_errors, error_for, one_line

API_VERSION = "2024-03-01"
TERMINAL = frozenset({"Succeeded", "Failed", "Canceled"})
# Resource Manager refuses a deployment while one of the same name is still running.
ACTIVE = "DeploymentActive"


def deployment_name(cluster: str) -> str:
    """One deployment record per cluster, updated by every `azure deploy`."""
    return f"swarmstack-{cluster}"


class _Missing(Exception):
    """The deployment (or its group) does not exist."""


@dataclass
class TemplateDeployment:
    clients: AzureClients
    group: str
    name: str
    # Resource name (lower case) -> how plans and errors name it, e.g. "workers (swarm-workers)";
    # other resources are named "<type> (<name>)".
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"deployment {self.name}"

    def get(self) -> dict[str, Any] | None:
        """The deployment record (state, outputs, error), or None when there is none."""
        try:
            return self._call("GET")
        except _Missing:
            return None

    def start(
        self, template: dict[str, Any], parameters: dict[str, Any], tags: dict[str, str]
    ) -> dict[str, Any]:
        """Submit the template (Incremental: resources not in it are left alone)."""
        body = {
            "tags": tags,
            "properties": {
                "mode": "Incremental",
                "template": template,
                "parameters": {key: {"value": value} for key, value in parameters.items()},
            },
        }
        return self._call("PUT", body=body)

    def operations(self) -> list[dict[str, Any]]:
        """One entry per resource the deployment has started, with its state."""
        try:
            found = self._call("GET", "/operations")
        except _Missing:
            return []
        return list(found.get("value") or [])

    def watch(
        self,
        poll_seconds: float,
        on_event: Callable[[Event], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        """Poll until the deployment ends, reporting each resource as its state changes;
        returns the final record."""
        started = clock()
        seen: dict[str, str] = {}
        while True:
            record = self.get() or {}
            for operation in self.operations():
                key, label, state = self._operation_state(operation)
                if key and seen.get(key) != state:
                    seen[key] = state
                    on_event(Event(key, label, state.lower(), elapsed=clock() - started))
            if _state(record) in TERMINAL:
                return record
            sleep(max(poll_seconds, 0.2))

    def failure(self, record: dict[str, Any]) -> SwarmstackError:
        """The error for a deployment that did not succeed: each failed resource, its code and
        message (Azure's own summary only when no resource says more)."""
        failures = []
        for operation in self.operations():
            _, label, state = self._operation_state(operation)
            if state != "Failed":
                continue
            error = _error_body(operation["properties"].get("statusMessage"))
            failures.append(
                Failure(label, str(error.get("code", "Failed")), one_line(error.get("message", "")))
            )
        if not failures:
            error = _error_body(record.get("properties", {}).get("error"))
            details = error.get("details") or [error]
            failures = [
                Failure(
                    self.label,
                    str(detail.get("code") or _state(record)),
                    one_line(str(detail.get("message") or "no reason given")),
                )
                for detail in details
            ]
        return error_for(failures)

    def _operation_state(self, operation: dict[str, Any]) -> tuple[str, str, str]:
        """(resource id, label, state) of one deployment operation."""
        properties = operation.get("properties") or {}
        target = properties.get("targetResource") or {}
        name = str(target.get("resourceName", "?"))
        kind = str(target.get("resourceType", "")).rsplit("/", 1)[-1]
        label = self.labels.get(name.lower(), f"{kind} ({name})")
        return str(target.get("id", "")), label, str(properties.get("provisioningState", ""))

    def _call(self, method: str, suffix: str = "", body: Any = None) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        url = (
            f"/subscriptions/{self.clients.subscription_id}/resourcegroups/{self.group}"
            f"/providers/Microsoft.Resources/deployments/{self.name}{suffix}"
            f"?api-version={API_VERSION}"
        )
        with azure_errors(self.label):
            response = self.clients.resources.send_request(HttpRequest(method, url, json=body))
        if response.status_code == 404 and method == "GET":
            raise _Missing(self.name)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        if response.status_code >= 300:
            error = _error_body(answer)
            raise error_for(
                [
                    Failure(
                        self.label,
                        str(error.get("code") or f"HTTP {response.status_code}"),
                        one_line(str(error.get("message") or response.reason or "")),
                    )
                ]
            )
        return dict(answer) if isinstance(answer, dict) else {}


def _state(record: dict[str, Any]) -> str:
    return str(record.get("properties", {}).get("provisioningState", ""))


def _error_body(value: Any) -> dict[str, Any]:
    """An Azure error as {code, message, details}, from either of the shapes it comes in."""
    if isinstance(value, dict):
        inner = value.get("error")
        if isinstance(inner, dict):
            return inner
        return value
    return {"message": str(value)} if value else {}
