"""Template deployments on the simulated Resource Manager: PUT
.../resourceGroups/G/providers/Microsoft.Resources/deployments/NAME with a template and its
parameters, as `az deployment group create` and the SDK's deployments.begin_create_or_update
send it. The template is evaluated by arm.TemplateDeployment and its PUTs applied in
dependency order, at once (the simulation's operations end at once); the deployment then
reads back with its outputs. Failures answer 400 with Resource Manager's code and message.
"""

from __future__ import annotations

from typing import Any

from .arm import DeploymentScope, TemplateDeployment
from .errors import ArmError
from .resource_manager import Reply
from .world import TENANT, World


def is_deployment_path(lower: list[str]) -> bool:
    """subscriptions/S/resourcegroups/G/providers/microsoft.resources/deployments/NAME"""
    return (
        len(lower) == 8
        and lower[0] == "subscriptions"
        and lower[2] == "resourcegroups"
        and lower[5:7] == ["microsoft.resources", "deployments"]
    )


def handle_deployment(world: World, method: str, path: str, payload: Any) -> Reply:
    segments = [s for s in path.split("/") if s]
    subscription, group, name = segments[1], segments[3], segments[7]
    key = path.lower()
    with world.lock:
        if method == "GET":
            found = world.deployments.get(key)
            if found is None:
                return _error(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
            return Reply(200, found)
        if method != "PUT":
            return _error(405, "MethodNotAllowed", method)
        group_body = world.rm.groups.get(group.lower())
        if group_body is None:
            return _error(
                404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
            )
        properties = (payload or {}).get("properties") or {}
        template = properties.get("template")
        if not isinstance(template, dict):
            return _error(400, "InvalidRequestContent", "properties.template must be an object")
        supplied = {
            k: v.get("value")
            for k, v in (properties.get("parameters") or {}).items()
            if isinstance(v, dict)
        }
        scope = DeploymentScope(
            subscription,
            group,
            str(group_body.get("location", "")),
            TENANT,
            name,
            dict(group_body.get("tags") or {}),
        )

        def lookup(resource_id: str, _api_version: str | None) -> dict[str, Any] | None:
            return world.rm.resources.get(resource_id.lower())

        try:
            deployment = TemplateDeployment(template, supplied, scope, lookup)
            applied = []
            for put in deployment.puts():
                world.rm.apply(put.resource_id, put.body)
                applied.append({"id": put.resource_id, "resourceType": put.type})
            outputs = deployment.outputs()
        except ArmError as error:
            return Reply(400, error.to_body())
        record = {
            "id": path,
            "name": name,
            "type": "Microsoft.Resources/deployments",
            "properties": {
                "provisioningState": "Succeeded",
                "mode": properties.get("mode", "Incremental"),
                "outputs": outputs,
                "outputResources": applied,
            },
        }
        created = key not in world.deployments
        world.deployments[key] = record
        return Reply(201 if created else 200, record)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})
