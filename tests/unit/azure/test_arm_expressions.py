"""The ARM expression language of the simulated Resource Manager: parsing and each function."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmstack.provisioners.local.sim.azure import ArmError, DeploymentScope, TemplateDeployment
from swarmstack.provisioners.local.sim.azure.expressions import (
    Call,
    Index,
    Literal,
    Property,
    is_expression,
    parse,
)

SCOPE = DeploymentScope(
    subscription_id="00000000-1111-4222-8333-444444444444",
    resource_group="rg-swarm",
    location="westeurope",
    tenant_id="72f988bf-0000-4000-8000-000000000001",
    deployment_name="by-hand",
)
GROUP = f"/subscriptions/{SCOPE.subscription_id}/resourceGroups/rg-swarm"


def evaluate(expression: str, **template: Any) -> Any:
    """The value of one expression, as a template output (outputs see everything; no type,
    so no output type check)."""
    parameters = template.pop("supplied", {})
    document = {"outputs": {"x": {"value": expression}}, **template}
    return TemplateDeployment(document, parameters, SCOPE, lambda *_: None).outputs()["x"]["value"]


def failure(expression: str, **template: Any) -> str:
    with pytest.raises(ArmError) as caught:
        evaluate(expression, **template)
    return caught.value.message


# --- parsing -----------------------------------------------------------------------------


def test_parse_builds_calls_properties_and_indexes() -> None:
    node = parse("[concat(parameters('a'), 'it''s', -3, true)[0].b['c']]")
    assert node == Index(
        Property(
            Index(
                Call(
                    "concat",
                    (
                        Call("parameters", (Literal("a"),)),
                        Literal("it's"),
                        Literal(-3),
                        Literal(True),
                    ),
                ),
                Literal(0),
            ),
            "b",
        ),
        Literal("c"),
    )


@given(st.text(), st.text())
def test_any_text_survives_a_string_literal(first: str, second: str) -> None:
    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    assert parse(f"[concat({quoted(first)}, {quoted(second)})]") == Call(
        "concat", (Literal(first), Literal(second))
    )


def test_only_bracketed_strings_are_expressions() -> None:
    assert is_expression("[variables('x')]")
    assert not is_expression("[[literal]")
    assert not is_expression("plain [text]")
    assert not is_expression("[starts only")
    assert evaluate("[[not an expression]") == "[not an expression]"
    assert evaluate("plain") == "plain"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("[concat('a', 'b']", "ended early (a ')' or ']' missing?)"),
        ("[concat('a')) ]", "unexpected ')'"),
        ("[concat('unterminated)]", 'unexpected character "\'"'),
        ("[concat('a' 'b')]", "expected ',' or ')'"),
        ("[resourceGroup().]", "ended early"),
        ("[ ]", "empty expression"),
        ("[storage]", "'storage' at position 0 is not a function call or literal"),
        ("[resourceGroup().location[0]]", "cannot index a String"),
    ],
)
def test_malformed_expressions_name_the_expression(expression: str, problem: str) -> None:
    message = failure(expression)
    assert problem in message
    assert expression in message


def test_a_quote_left_single_gets_a_hint() -> None:
    message = failure("[guid('a', 'the swarm's state (claim, leases)')]")
    assert "a quote inside a string literal is written twice: ''" in message
    assert evaluate("[guid('a', 'the swarm''s state')]") != evaluate("[guid('a', 'the swarm')]")


def test_unknown_functions_are_named() -> None:
    message = failure("[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'x'), '1')]")
    assert "'listKeys' is not known" in message
    assert "[listKeys(" in message


def test_function_names_are_case_insensitive() -> None:
    assert evaluate("[CONCAT(toUpper('a'), ResourceGroup().name)]") == "Arg-swarm"


# --- functions ---------------------------------------------------------------------------


def test_concat_joins_strings_or_arrays_but_not_both() -> None:
    assert evaluate("[concat('a', 1, 'b')]") == "a1b"
    assert evaluate("[concat(createArray(1, 2), createArray('x'))]") == [1, 2, "x"]
    assert "all strings or all arrays" in failure("[concat('a', createArray(1))]")


def test_argument_counts_are_checked() -> None:
    assert "expects at least 1 arguments, got 0" in failure("[concat()]")
    assert "expects 2 to 3 arguments, got 1" in failure("[substring('a')]")
    assert "expects 2 arguments, got 3" in failure("[equals(1, 2, 3)]")


def test_format_fills_numbered_items_and_keeps_escaped_braces() -> None:
    assert evaluate("[format('{1}-{0} {{x}}', 'a', 'b')]") == "b-a {x}"
    assert evaluate("[format('{0}', true)]") == "True"
    message = failure("[format('{0}{1}', 'a')]")
    assert "refers to argument {1} but 1 were given" in message
    assert "'format'" in message


def test_guid_is_a_deterministic_name_based_uuid() -> None:
    first = evaluate("[guid(resourceGroup().id, 'swarm-managers', 'read')]")
    assert first == evaluate("[guid(resourceGroup().id, 'swarm-managers', 'read')]")
    assert uuid.UUID(first).version == 5
    others = {
        evaluate("[guid(resourceGroup().id, 'swarm-workers', 'read')]"),
        evaluate("[guid(resourceGroup().id, 'swarm-managers', 'write')]"),
        evaluate("[guid('other', 'swarm-managers', 'read')]"),
    }
    assert first not in others
    assert len(others) == 3
    assert "expects strings" in failure("[guid(1)]")
    # ARM's recipe: UUID v5 in its namespace over the arguments joined with '-'.
    namespace = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")
    assert evaluate("[guid('a', 'b', 'c')]") == str(uuid.uuid5(namespace, "a-b-c"))


def test_unique_string_is_13_base32_characters_and_deterministic() -> None:
    value = evaluate("[uniqueString(resourceGroup().id, 'swarm')]")
    assert len(value) == 13
    assert set(value) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert value == evaluate("[uniqueString(resourceGroup().id, 'swarm')]")
    assert value != evaluate("[uniqueString(resourceGroup().id, 'other')]")


def test_if_evaluates_only_the_chosen_branch() -> None:
    assert evaluate("[if(equals(1, 1), 'yes', parameters('missing'))]") == "yes"
    assert evaluate("[if(false, parameters('missing'), 2)]") == 2
    assert "condition must be a boolean" in failure("[if('true', 1, 2)]")
    assert "'missing' is not found" in failure("[if(true, parameters('missing'), 1)]")


def test_equals_and_logic_are_type_sensitive() -> None:
    assert evaluate("[equals('Premium_LRS', 'Premium_LRS')]") is True
    assert evaluate("[equals('premium_lrs', 'Premium_LRS')]") is False
    assert evaluate("[equals(1, true)]") is False
    assert evaluate("[and(true, not(false), or(false, true))]") is True
    assert "expects booleans" in failure("[not(1)]")


def test_numbers_and_comparisons() -> None:
    assert evaluate("[add(mul(3, 4), sub(0, 2))]") == 10
    assert evaluate("[div(-7, 2)]") == -3  # truncates toward zero, as .NET does
    assert evaluate("[mod(-7, 2)]") == -1
    assert evaluate("[less(1, 2)]") is True
    assert "division by zero" in failure("[div(1, 0)]")


def test_string_and_array_helpers() -> None:
    assert evaluate("[length(split('a,b;c', createArray(',', ';')))]") == 3
    assert evaluate("[substring('swarmstack', 5, 5)]") == "stack"
    assert evaluate("[replace(toLower('A-B'), '-', '')]") == "ab"
    assert evaluate("[contains(createArray('x', 'y'), 'y')]") is True
    assert evaluate("[empty(createArray())]") is True
    assert evaluate("[first(createArray(4, 5))]") == 4
    assert evaluate("[coalesce(null, 'z')]") == "z"
    assert evaluate("[createObject('k', 1).k]") == 1
    assert evaluate("[base64ToString(base64('cloud-config'))]") == "cloud-config"
    assert evaluate("[string(createObject('a', true))]") == '{"a":true}'
    assert evaluate("[int('42')]") == 42


def test_resource_ids_in_every_form() -> None:
    vnet = "Microsoft.Network/virtualNetworks"
    assert evaluate(f"[resourceId('{vnet}', 'v')]") == f"{GROUP}/providers/{vnet}/v"
    assert (
        evaluate(f"[resourceId('{vnet}/subnets', 'v', 's')]")
        == f"{GROUP}/providers/{vnet}/v/subnets/s"
    )
    assert evaluate(f"[resourceId('other-rg', '{vnet}', 'v')]") == (
        f"/subscriptions/{SCOPE.subscription_id}/resourceGroups/other-rg/providers/{vnet}/v"
    )
    assert evaluate(f"[resourceId('sub-2', 'rg-2', '{vnet}', 'v')]") == (
        f"/subscriptions/sub-2/resourceGroups/rg-2/providers/{vnet}/v"
    )
    role = "Microsoft.Authorization/roleDefinitions"
    assert evaluate(f"[subscriptionResourceId('{role}', 'r1')]") == (
        f"/subscriptions/{SCOPE.subscription_id}/providers/{role}/r1"
    )
    assert evaluate(
        f"[extensionResourceId(resourceId('{vnet}', 'v'), 'Microsoft.Authorization/locks', 'l')]"
    ) == (f"{GROUP}/providers/{vnet}/v/providers/Microsoft.Authorization/locks/l")
    message = failure(f"[resourceId('{vnet}/subnets', 'v')]")
    assert "requires 2 resource name argument(s), got 1" in message
    assert "'resourceId'" in message
    assert "no resource type" in failure("[resourceId('v')]")


def test_context_functions() -> None:
    assert evaluate("[resourceGroup().id]") == GROUP
    assert evaluate("[resourceGroup().location]") == "westeurope"
    assert evaluate("[subscription().tenantId]") == SCOPE.tenant_id
    assert evaluate("[subscription().subscriptionId]") == SCOPE.subscription_id
    assert evaluate("[environment().suffixes.storage]") == "core.windows.net"
    assert evaluate("[deployment().name]") == "by-hand"
    message = failure("[resourceGroup().region]")
    assert "property 'region' doesn't exist" in message
    assert "location" in message


def test_parameters_and_variables_resolve_through_each_other() -> None:
    template = {
        "parameters": {
            "name": {"type": "string", "defaultValue": "swarm"},
            "where": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        },
        "variables": {
            "vault": "[concat('kv', variables('seed'))]",
            "seed": "[uniqueString(resourceGroup().id, parameters('name'))]",
            "object": {"[parameters('name')]": ["[parameters('where')]", "[[x]"]},
        },
    }
    vault = evaluate("[variables('vault')]", **template)
    assert vault.startswith("kv")
    assert len(vault) == 15
    assert evaluate("[variables('object')]", **template) == {"swarm": ["westeurope", "[x]"]}
    assert evaluate("[variables('object').swarm[1]]", **template) == "[x]"
    assert "variable 'nope' is not found" in failure("[variables('nope')]", **template)


def test_variable_cycles_are_reported() -> None:
    template = {"variables": {"a": "[variables('b')]", "b": "[concat(variables('a'))]"}}
    message = failure("[variables('a')]", **template)
    assert "refer in a circle: a -> b -> a" in message


def test_copy_index_outside_a_loop_is_an_error() -> None:
    assert "used outside a copy loop" in failure("[copyIndex()]")
