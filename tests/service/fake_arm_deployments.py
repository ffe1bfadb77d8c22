"""Template deployments on the fake Resource Manager: the simulation's DeploymentsEndpoint
over FakeAzure's own resource store, so a deployed template's resources go through the same
checks as the SDK path's PUTs (references to missing resources refused, injected failures,
held operations)."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from swarmstack.provisioners.local.sim.azure import ArmError, ResourcePut
from swarmstack.provisioners.local.sim.azure.deployments import DeploymentsEndpoint
from swarmstack.provisioners.local.sim.azure.resource_manager import FakeAzure, Request

# Children that exist with their parent in Azure, never PUT by a template.
IMPLICIT_CHILDREN = ("/blobservices/default", "/fileservices/default", "/queueservices/default")


class FakeAzureStore:
    def __init__(self, fake: FakeAzure, poll_interval: float = 0.01) -> None:
        self.fake = fake
        self.poll_interval = poll_interval

    def resource_group(self, subscription_id: str, name: str) -> Mapping[str, Any] | None:
        with self.fake.lock:
            group = self.fake.groups.get(name.lower())
            return copy.deepcopy(group) if group else None

    def get_resource(self, resource_id: str) -> Mapping[str, Any] | None:
        with self.fake.lock:
            body = self.fake.resources.get(resource_id.lower())
            return copy.deepcopy(body) if body else None

    def put_resource(self, put: ResourcePut) -> None:
        resource_id = put.resource_id.lower()
        with self.fake.lock:
            missing = self._missing_parent(resource_id)
            if missing:
                raise ArmError(
                    "ParentResourceNotFound",
                    f"Can not perform requested operation on nested resource. Parent resource "
                    f"'{missing}' not found.",
                )
            # Resource Manager PUTs each resource on the deployment's behalf: kept with the
            # requests, so tests read what a deployment sent as they read the SDK's PUTs.
            self.fake.requests.append(
                Request("PUT", put.resource_id, put.api_version, copy.deepcopy(put.body))
            )
            reply = self.fake._resource("PUT", put.resource_id, copy.deepcopy(put.body))
            if reply.status >= 400:
                error = reply.body["error"]
                raise ArmError(error["code"], error["message"])
            operation = next(
                o
                for o in reversed(list(self.fake.operations.values()))
                if o.resource_id == resource_id
            )
        while True:
            with self.fake.lock:
                self.fake._advance(operation)
                if operation.status == "Failed":
                    code, message = operation.failure or ("ResourceDeploymentFailure", "failed")
                    raise ArmError(code, message)
                if operation.status == "Succeeded":
                    return
            time.sleep(self.poll_interval)  # a held operation: wait for release()

    def _missing_parent(self, resource_id: str) -> str | None:
        """The resource a child or an extension resource needs, when it does not exist."""
        owner = resource_id.rsplit("/providers/", 1)
        if len(owner) == 2 and owner[0].count("/") > 4:  # an extension resource: its scope
            scope = owner[0]
            return None if self._exists(scope) else scope
        parts = resource_id.split("/")
        if len(parts) <= 9:
            return None
        parent = "/".join(parts[:-2])
        return None if self._exists(parent) else parent

    def _exists(self, resource_id: str) -> bool:
        if resource_id in self.fake.resources:
            return True
        if resource_id.endswith(IMPLICIT_CHILDREN):
            return self._exists(resource_id.rsplit("/", 2)[0])
        return False


def attach_deployments(fake: FakeAzure) -> DeploymentsEndpoint:
    endpoint = DeploymentsEndpoint(FakeAzureStore(fake), fake.tenant_id)
    fake.deployments = endpoint
    return endpoint
