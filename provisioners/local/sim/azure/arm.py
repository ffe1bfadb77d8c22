"""A template deployment as Resource Manager runs it: parameters, variables, conditions, copy
loops and dependsOn order, and each resource's body evaluated just before its PUT.

    deployment = TemplateDeployment(template, {"sshPublicKey": key}, scope, lookup)
    for put in deployment.puts():        # dependency order; bodies evaluated lazily
        store.apply(put.resource_id, put.api_version, put.body)
    outputs = deployment.outputs()       # {"name": {"type": "String", "value": ...}}

Pure: the only outside state it sees is `lookup(resource_id, api_version)`, which returns the
resource as a GET would (its top-level keys and "properties") or None, for reference(). A
reference() to a resource of this template that has not been PUT yet is an error naming it - in
Azure it would read a stale or missing resource, so it means a dependsOn is missing.
Bad templates and parameters raise ArmError before the first PUT (the PUT of a deployment is
refused), with Resource Manager's error code and a message naming the expression.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .errors import ArmError
from .expressions import Evaluator, Function, FunctionError, is_expression, unescape
from .functions import PURE_FUNCTIONS
from .parameters import (
    SECURE_TYPES,
    check_output,
    check_supplied,
    check_value,
    declared_type,
    missing,
)

ReferenceLookup = Callable[[str, str | None], Mapping[str, Any] | None]

# environment() of the public Azure cloud (the keys templates use).
AZURE_CLOUD: Mapping[str, Any] = {
    "name": "AzureCloud",
    "gallery": "https://gallery.azure.com/",
    "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com",
    "resourceManager": "https://management.azure.com/",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "suffixes": {
        "acrLoginServer": ".azurecr.io",
        "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
        "keyvaultDns": ".vault.azure.net",
        "sqlServerHostname": ".database.windows.net",
        "storage": "core.windows.net",
    },
}
# Template keys of a resource that are not part of its PUT body.
NOT_IN_BODY = frozenset(
    {
        "type",
        "apiversion",
        "name",
        "dependson",
        "condition",
        "copy",
        "comments",
        "metadata",
        "scope",
    }
)
_SECTIONS = ("parameters", "variables", "resources", "outputs")


@dataclass(frozen=True)
class DeploymentScope:
    """Where a deployment runs (a resource group) and what its context functions return."""

    subscription_id: str
    resource_group: str
    location: str
    tenant_id: str
    deployment_name: str = "deployment"
    group_tags: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=lambda: AZURE_CLOUD)

    @property
    def group_id(self) -> str:
        return ids.group_id(self.subscription_id, self.resource_group)


@dataclass(frozen=True)
class ResourcePut:
    resource_id: str
    api_version: str
    body: dict[str, Any]
    type: str
    name: str


@dataclass
class _Resource:
    position: int  # in the template, for a stable order among independent resources
    definition: Mapping[str, Any]
    type: str
    name: str
    api_version: str
    resource_id: str
    enabled: bool
    loop: str | None = None
    loop_index: int | None = None
    depends_on: list[str] = field(default_factory=list)  # lower-case ids

    @property
    def label(self) -> str:
        return f"resource '{self.type}' '{self.name}'"


class _Lazy:
    """Named values evaluated on first use, with cycles reported (parameters, variables)."""

    def __init__(self, kind: str, names: Mapping[str, Any], compute: Callable[[str], Any]) -> None:
        self.kind = kind
        self.by_lower = {name.lower(): name for name in names}
        self.compute = compute
        self.values: dict[str, Any] = {}
        self.pending: list[str] = []

    def get(self, name: str) -> Any:
        real = self.by_lower.get(name.lower())
        if real is None:
            raise FunctionError(f"the template {self.kind} '{name}' is not found")
        if real in self.values:
            return self.values[real]
        if real in self.pending:
            cycle = " -> ".join([*self.pending[self.pending.index(real) :], real])
            raise ArmError(
                "InvalidTemplate", f"the template {self.kind}s refer in a circle: {cycle}"
            )
        self.pending.append(real)
        try:
            self.values[real] = self.compute(real)
        finally:
            self.pending.pop()
        return self.values[real]


class TemplateDeployment:
    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        scope: DeploymentScope,
        lookup: ReferenceLookup,
    ) -> None:
        _check_shape(template)
        self.template = template
        self.scope = scope
        self.lookup = lookup
        self._loops: dict[str, int] = {}  # copy loop name -> current index
        self._current_loop: str | None = None
        self._planning = True
        self._deployed: set[str] = set()
        self._loop_names: set[str] = set()
        self._evaluator = Evaluator(self._functions())
        definitions: Mapping[str, Any] = template.get("parameters") or {}
        check_supplied(definitions, parameters)
        supplied = {name.lower(): value for name, value in parameters.items()}
        self._parameters = _Lazy(
            "parameter",
            definitions,
            lambda name: self._parameter(name, definitions[name], supplied),
        )
        variables: Mapping[str, Any] = template.get("variables") or {}
        if "copy" in variables:
            raise ArmError("InvalidTemplate", "variable copy loops are not supported here")
        self._variables = _Lazy("variable", variables, self._variable)
        self.parameter_values = {name: self._parameters.get(name) for name in definitions}
        self.parameter_types = {name: declared_type(name, d) for name, d in definitions.items()}
        self.resources = self._plan(template.get("resources") or [])
        self.order = _sorted(self.resources)
        self._planning = False

    # --- the deployment ------------------------------------------------------------------

    def puts(self) -> Iterator[ResourcePut]:
        """Each enabled resource's PUT in dependency order; a body is evaluated only after
        everything before it was applied (reference() reads the applied state)."""
        for resource in self.order:
            if not resource.enabled:
                continue
            self._enter_loop(resource)
            body = {
                self._key(key, resource.label): self._walk(value, f"{resource.label} {key}")
                for key, value in resource.definition.items()
                if key.lower() not in NOT_IN_BODY
            }
            yield ResourcePut(
                resource.resource_id, resource.api_version, body, resource.type, resource.name
            )
            self._deployed.add(resource.resource_id.lower())

    def outputs(self) -> dict[str, dict[str, Any]]:
        """The template's outputs after the PUTs, as a deployment's GET returns them; secure
        outputs are left out, as Resource Manager leaves them out."""
        self._current_loop = None
        result: dict[str, dict[str, Any]] = {}
        for name, output in (self.template.get("outputs") or {}).items():
            where = f"output '{name}'"
            if not self._condition(output, where):
                continue
            kind = str(output.get("type", "")).lower()
            if kind in SECURE_TYPES:
                continue
            value = self._walk(output.get("value"), where)
            check_output(name, kind, value)
            result[name] = {"type": _TYPE_NAMES.get(kind, output.get("type")), "value": value}
        return result

    # --- planning: names, ids, conditions, loops, order ------------------------------------

    def _plan(self, definitions: list[Any]) -> list[_Resource]:
        planned: list[_Resource] = []
        for position, definition in enumerate(definitions):
            if not isinstance(definition, Mapping):
                raise ArmError("InvalidTemplate", f"resources[{position}] is not an object")
            for key in ("type", "apiVersion", "name"):
                if key not in definition:
                    raise ArmError("InvalidTemplate", f"resources[{position}] has no '{key}'")
            if "resources" in definition:
                raise ArmError(
                    "InvalidTemplate",
                    f"resources[{position}] nests child resources; this simulation needs "
                    "them as top-level resources with full types and 'parent/child' names",
                )
            loop = definition.get("copy")
            if loop is None:
                planned.append(self._planned(position, definition, None, None))
                continue
            loop_name = str(loop.get("name", ""))
            self._loop_names.add(loop_name.lower())
            count = self._walk(loop.get("count"), f"resources[{position}].copy.count")
            if not loop_name or not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ArmError(
                    "InvalidTemplate",
                    f"resources[{position}].copy needs a name and a count >= 0, got "
                    f"{loop_name!r} and {count!r}",
                )
            planned += [self._planned(position, definition, loop_name, i) for i in range(count)]
        by_id: dict[str, _Resource] = {}
        for resource in planned:
            key = resource.resource_id.lower()
            if key in by_id:
                raise ArmError(
                    "InvalidTemplate",
                    f"the resource '{resource.resource_id}' is defined multiple times in the "
                    "template",
                )
            by_id[key] = resource
        for resource in planned:
            self._enter_loop(resource)
            resource.depends_on = self._dependencies(resource, planned, by_id)
        return planned

    def _planned(
        self, position: int, definition: Mapping[str, Any], loop: str | None, index: int | None
    ) -> _Resource:
        where = f"resources[{position}]"
        self._current_loop = loop
        if loop is not None and index is not None:
            self._loops[loop] = index
        resource_type = self._text(definition["type"], f"{where}.type")
        name = self._text(definition["name"], f"{where}.name")
        api_version = self._text(definition["apiVersion"], f"{where}.apiVersion")
        scope = self._text(definition["scope"], f"{where}.scope") if "scope" in definition else None
        try:
            resource_id = ids.template_resource_id(
                self.scope.subscription_id, self.scope.resource_group, resource_type, name, scope
            )
        except FunctionError as error:
            raise ArmError(
                "InvalidTemplate", f"{where} '{resource_type}' '{name}': {error}"
            ) from None
        enabled = self._condition(definition, where)
        return _Resource(
            position,
            definition,
            resource_type,
            name,
            api_version,
            resource_id,
            enabled,
            loop,
            index,
        )

    def _dependencies(
        self, resource: _Resource, planned: list[_Resource], by_id: Mapping[str, _Resource]
    ) -> list[str]:
        entries = resource.definition.get("dependsOn") or []
        if not isinstance(entries, list):
            raise ArmError("InvalidTemplate", f"{resource.label}: dependsOn must be an array")
        result: list[str] = []
        for entry in entries:
            target = self._text(entry, f"{resource.label} dependsOn")
            found = _find(target, planned, by_id)
            if not found and target.lower() not in self._loop_names:  # a loop may be empty
                raise ArmError(
                    "InvalidTemplate",
                    f"The resource '{target}' is not defined in the template (dependsOn of "
                    f"{resource.label})",
                )
            for other in found:
                key = other.resource_id.lower()
                if key != resource.resource_id.lower() and key not in result:
                    result.append(key)
                elif key == resource.resource_id.lower():
                    raise ArmError("InvalidTemplate", f"{resource.label} depends on itself")
        return result

    def _enter_loop(self, resource: _Resource) -> None:
        self._current_loop = resource.loop
        if resource.loop is not None and resource.loop_index is not None:
            self._loops[resource.loop] = resource.loop_index

    def _condition(self, definition: Mapping[str, Any], where: str) -> bool:
        if "condition" not in definition:
            return True
        value = self._walk(definition["condition"], f"{where}.condition")
        if not isinstance(value, bool):
            raise ArmError("InvalidTemplate", f"{where}.condition must be a boolean, got {value!r}")
        return value

    # --- evaluation ----------------------------------------------------------------------

    def _parameter(self, name: str, definition: Mapping[str, Any], supplied: dict[str, Any]) -> Any:
        if name.lower() in supplied:
            value = supplied[name.lower()]
        elif "defaultValue" in definition:
            value = self._walk(definition["defaultValue"], f"parameters.{name}.defaultValue")
        else:
            raise missing(name)
        check_value(name, definition, value)
        return value

    def _variable(self, name: str) -> Any:
        # Evaluated on first use, maybe while a body is, but never with reference(): ARM
        # evaluates variables before deploying anything.
        planning, self._planning = self._planning, True
        try:
            return self._walk(self.template["variables"][name], f"variables.{name}")
        finally:
            self._planning = planning

    def _text(self, value: Any, where: str) -> str:
        result = self._walk(value, where)
        if not isinstance(result, str):
            raise ArmError("InvalidTemplate", f"{where} must be a string, got {result!r}")
        return result

    def _key(self, key: str, where: str) -> str:
        return self._text(key, f"{where} key {key!r}") if is_expression(key) else unescape(key)

    def _walk(self, value: Any, where: str) -> Any:
        """A template value with every expression in it evaluated (keys too)."""
        if isinstance(value, str):
            if not is_expression(value):
                return unescape(value)
            try:
                return copy.deepcopy(self._evaluator.evaluate_text(value))
            except ArmError as error:
                raise ArmError(error.code, f"{where}: {error.message}") from None
        if isinstance(value, list):
            return [self._walk(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            result: dict[str, Any] = {}
            for key, item in value.items():
                if key == "copy" and isinstance(item, list):
                    result.update(self._property_loops(item, where))
                    continue
                result[self._key(key, where)] = self._walk(item, f"{where}.{key}")
            return result
        return value

    def _property_loops(self, loops: list[Any], where: str) -> dict[str, list[Any]]:
        """ "copy": [{"name": "disks", "count": n, "input": {...copyIndex('disks')...}}]."""
        result: dict[str, list[Any]] = {}
        for loop in loops:
            name, count = loop.get("name"), self._walk(loop.get("count"), f"{where}.copy.count")
            if not isinstance(name, str) or not isinstance(count, int) or "input" not in loop:
                raise ArmError(
                    "InvalidTemplate", f"{where}.copy: each loop needs a name, a count and input"
                )
            items = []
            for index in range(count):
                self._loops[name] = index
                items.append(self._walk(loop["input"], f"{where}.{name}[{index}]"))
            self._loops.pop(name, None)
            result[name] = items
        return result

    # --- functions that read the deployment ------------------------------------------------

    def _functions(self) -> dict[str, Function]:
        scope = self.scope

        def parameters(args: list[Any]) -> Any:
            return self._parameters.get(_one_string(args))

        def variables(args: list[Any]) -> Any:
            return self._variables.get(_one_string(args))

        def resource_group(args: list[Any]) -> dict[str, Any]:
            _none(args)
            return {
                "id": scope.group_id,
                "name": scope.resource_group,
                "type": "Microsoft.Resources/resourceGroups",
                "location": scope.location,
                "tags": dict(scope.group_tags),
                "properties": {"provisioningState": "Succeeded"},
            }

        def subscription(args: list[Any]) -> dict[str, Any]:
            _none(args)
            return {
                "id": f"/subscriptions/{scope.subscription_id}",
                "subscriptionId": scope.subscription_id,
                "tenantId": scope.tenant_id,
                "displayName": "simulated subscription",
            }

        def tenant(args: list[Any]) -> dict[str, Any]:
            _none(args)
            return {"tenantId": scope.tenant_id, "displayName": "simulated tenant"}

        def environment(args: list[Any]) -> Any:
            _none(args)
            return copy.deepcopy(dict(scope.environment))

        def deployment(args: list[Any]) -> dict[str, Any]:
            _none(args)
            return {
                "name": scope.deployment_name,
                "properties": {
                    "template": {"contentVersion": self.template.get("contentVersion")},
                    "mode": "Incremental",
                },
            }

        def resource_id(args: list[Any]) -> str:
            leading, kind, names = ids.split_leading(_all_strings(args), 2)
            subscription_id, group = scope.subscription_id, scope.resource_group
            if len(leading) == 2:
                subscription_id, group = leading
            elif len(leading) == 1:
                group = leading[0]
            return ids.resource_id(subscription_id, group, kind, names)

        def subscription_resource_id(args: list[Any]) -> str:
            leading, kind, names = ids.split_leading(_all_strings(args), 1)
            return ids.subscription_resource_id(
                leading[0] if leading else scope.subscription_id, kind, names
            )

        def extension_resource_id(args: list[Any]) -> str:
            strings = _all_strings(args)
            if len(strings) < 3:
                raise FunctionError("expects a scope id, a resource type and names")
            return ids.extension_resource_id(strings[0], strings[1], strings[2:])

        def copy_index(args: list[Any]) -> int:
            loop, offset = self._current_loop, 0
            for arg in args:
                if isinstance(arg, str):
                    loop = arg
                elif isinstance(arg, int) and not isinstance(arg, bool):
                    offset = arg
                else:
                    raise FunctionError(f"expects a loop name and/or an offset, got {arg!r}")
            if loop is None or loop not in self._loops:
                raise FunctionError(
                    "used outside a copy loop" if loop is None else f"no copy loop '{loop}' here"
                )
            return self._loops[loop] + offset

        return {
            **PURE_FUNCTIONS,
            "parameters": parameters,
            "variables": variables,
            "resourcegroup": resource_group,
            "subscription": subscription,
            "tenant": tenant,
            "environment": environment,
            "deployment": deployment,
            "resourceid": resource_id,
            "subscriptionresourceid": subscription_resource_id,
            "extensionresourceid": extension_resource_id,
            "copyindex": copy_index,
            "reference": self._reference,
        }

    def _reference(self, args: list[Any]) -> Any:
        if self._planning:
            raise FunctionError(
                "reference() cannot be used in a resource's type, name, scope, condition, copy "
                "count, dependsOn, in parameters or in variables (Resource Manager evaluates "
                "those before deploying anything)"
            )
        if not 1 <= len(args) <= 3 or not all(isinstance(arg, str) for arg in args):
            raise FunctionError("expects a resource id or name, [an api version], ['Full']")
        target, api_version = args[0], (args[1] if len(args) > 1 else None)
        full = len(args) == 3 and args[2].lower() == "full"
        if len(args) == 3 and not full:
            raise FunctionError(f"the third argument must be 'Full', got {args[2]!r}")
        ours = _find(target, self.resources, {r.resource_id.lower(): r for r in self.resources})
        if not target.startswith("/"):
            if len(ours) != 1:
                raise FunctionError(f"no single resource of this template is named '{target}'")
            target = ours[0].resource_id
        if ours and target.lower() not in self._deployed:
            raise FunctionError(
                f"'{target}' is a resource of this template that is not deployed yet: add it "
                "to the dependsOn of the resource that reads it"
            )
        state = self.lookup(target, api_version)
        if state is None:
            raise ArmError(
                "ResourceNotFound",
                f"The Resource '{target}' under resource group '{self.scope.resource_group}' "
                "was not found (read by reference())",
            )
        if full:
            return copy.deepcopy(dict(state))
        return copy.deepcopy(state.get("properties") or {})


_TYPE_NAMES = {
    "string": "String",
    "int": "Int",
    "bool": "Bool",
    "object": "Object",
    "array": "Array",
}


def _check_shape(template: Any) -> None:
    if not isinstance(template, Mapping):
        raise ArmError("InvalidTemplate", "the template must be a JSON object")
    if str(template.get("languageVersion", "1.0")) not in ("1.0", "1.9-experimental"):
        raise ArmError(
            "InvalidTemplate",
            f"languageVersion {template['languageVersion']} (symbolic names) is not supported",
        )
    if not isinstance(template.get("resources", []), list):
        raise ArmError("InvalidTemplate", "'resources' must be an array")
    for section in _SECTIONS:
        if section != "resources" and not isinstance(template.get(section) or {}, Mapping):
            raise ArmError("InvalidTemplate", f"'{section}' must be an object")


def _find(target: str, planned: list[_Resource], by_id: Mapping[str, _Resource]) -> list[_Resource]:
    """A dependsOn / reference target: an id, a copy loop's name, a resource name, or
    'Namespace/type/name' (all case-insensitive, as Resource Manager matches them)."""
    key = target.lower()
    if key.startswith("/"):
        found = by_id.get(key)
        return [found] if found else []
    loops = [r for r in planned if r.loop is not None and r.loop.lower() == key]
    if loops:
        return loops
    named = [r for r in planned if r.name.lower() == key]
    if named:
        return named
    return [r for r in planned if f"{r.type}/{r.name}".lower() == key]


def _one_string(args: list[Any]) -> str:
    if len(args) != 1 or not isinstance(args[0], str):
        raise FunctionError(f"expects one string argument, got {args!r}")
    return args[0]


def _all_strings(args: list[Any]) -> list[str]:
    if not all(isinstance(arg, str) for arg in args):
        raise FunctionError(f"expects strings, got {args!r}")
    return list(args)


def _none(args: list[Any]) -> None:
    if args:
        raise FunctionError(f"expects no arguments, got {len(args)}")


def _sorted(resources: list[_Resource]) -> list[_Resource]:
    """Topological order; among resources ready together, the template's order."""
    by_id = {r.resource_id.lower(): r for r in resources}
    waiting = {r.resource_id.lower(): set(r.depends_on) for r in resources}
    result: list[_Resource] = []
    while waiting:
        ready = [by_id[key] for key, needs in waiting.items() if not needs]
        if not ready:
            raise ArmError(
                "InvalidTemplate",
                f"Deployment template validation failed: circular dependency between "
                f"{_cycle(waiting, by_id)}",
            )
        ready.sort(key=lambda r: (r.position, r.loop_index or 0))
        chosen = ready[0]
        result.append(chosen)
        key = chosen.resource_id.lower()
        del waiting[key]
        for needs in waiting.values():
            needs.discard(key)
    return result


def _cycle(waiting: Mapping[str, set[str]], by_id: Mapping[str, _Resource]) -> str:
    start = next(iter(waiting))
    path = [start]
    while True:
        following = next(key for key in sorted(waiting[path[-1]]) if key in waiting)
        if following in path:
            loop = [*path[path.index(following) :], following]
            return " -> ".join(f"'{by_id[key].type}' '{by_id[key].name}'" for key in loop)
        path.append(following)
