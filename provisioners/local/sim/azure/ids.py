"""Resource ids as Resource Manager builds them: resourceId(), subscriptionResourceId(),
extensionResourceId(), and the id of a template resource from its type, name and scope."""

from __future__ import annotations

from .expressions import FunctionError


def _type_and_names(resource_type: str, names: list[str]) -> str:
    namespace, *types = resource_type.split("/")
    if not namespace or not types or not all(types):
        raise FunctionError(
            f"'{resource_type}' is not a resource type like 'Namespace/type[/child]'"
        )
    if len(names) != len(types):
        raise FunctionError(
            f"the type '{resource_type}' requires {len(types)} resource name argument(s), "
            f"got {len(names)}"
        )
    for name in names:
        if not name or "/" in name:
            raise FunctionError(f"the resource name '{name}' must be one non-empty segment")
    path = "/".join(f"{kind}/{name}" for kind, name in zip(types, names, strict=True))
    return f"{namespace}/{path}"


def group_id(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def resource_id(
    subscription_id: str, resource_group: str, resource_type: str, names: list[str]
) -> str:
    path = _type_and_names(resource_type, names)
    return f"{group_id(subscription_id, resource_group)}/providers/{path}"


def subscription_resource_id(subscription_id: str, resource_type: str, names: list[str]) -> str:
    return f"/subscriptions/{subscription_id}/providers/{_type_and_names(resource_type, names)}"


def extension_resource_id(scope_id: str, resource_type: str, names: list[str]) -> str:
    return f"{scope_id.rstrip('/')}/providers/{_type_and_names(resource_type, names)}"


def split_leading(args: list[str], most: int) -> tuple[list[str], str, list[str]]:
    """resourceId([subscriptionId], [resourceGroupName], type, names...): the type is the first
    argument with a '/', which ids, group names and resource names never have."""
    for position, arg in enumerate(args):
        if "/" in arg:
            if position > most:
                raise FunctionError(
                    f"expects at most {most} arguments before the resource type '{arg}'"
                )
            return args[:position], arg, args[position + 1 :]
    raise FunctionError("no resource type (an argument like 'Namespace/type') was given")


def template_resource_id(
    subscription_id: str, resource_group: str, resource_type: str, name: str, scope: str | None
) -> str:
    """The id of a template resource: its name 'a/b' matches the type 'NS/t1/t2'. A scope
    (extension resources) is a full id or one relative to the resource group."""
    names = name.split("/")
    if scope is None:
        return resource_id(subscription_id, resource_group, resource_type, names)
    scope_id = (
        scope
        if scope.startswith("/")
        else f"{group_id(subscription_id, resource_group)}/providers/{scope}"
    )
    return extension_resource_id(scope_id, resource_type, names)
