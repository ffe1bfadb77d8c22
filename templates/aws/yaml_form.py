"""CloudFormation YAML as people write it: short-form intrinsic functions (`!Ref Vpc`,
`!GetAtt Role.Arn`, `!Sub ...`) and one-line lists and maps of plain values.

This is what makes the default stack's YAML fit CloudFormation's inline limit: the long form
(`Ref: Vpc` on a line of its own, every list item on its own line) costs ~5 KB more. Only the
functions CloudFormation documents a short form for are shortened; a function whose argument
is directly another function keeps its long name, because CloudFormation refuses one short
form immediately after another (`!Base64 !Sub ...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

# Fn::X -> !X. Rules functions (Fn::EachMemberEquals, ...) have no documented short form.
SHORT_FORMS = frozenset(
    {
        "Fn::And",
        "Fn::Base64",
        "Fn::Cidr",
        "Fn::Equals",
        "Fn::FindInMap",
        "Fn::GetAZs",
        "Fn::If",
        "Fn::ImportValue",
        "Fn::Join",
        "Fn::Not",
        "Fn::Or",
        "Fn::Select",
        "Fn::Split",
        "Fn::Sub",
    }
)


@dataclass(frozen=True)
class _Function:
    """An intrinsic function in short form: the YAML tag and its argument."""

    tag: str
    argument: Any


def _short(value: Any) -> Any:
    """`value` with every intrinsic function that has a short form replaced by one."""
    if isinstance(value, list):
        return [_short(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        [(name, argument)] = value.items()
        if name == "Ref" and isinstance(argument, str):
            return _Function("!Ref", argument)
        if name == "Fn::GetAtt" and _is_resource_and_attribute(argument):
            return _Function("!GetAtt", ".".join(argument))
        if name in SHORT_FORMS:
            inner = _short(argument)
            if not isinstance(inner, _Function):
                return _Function("!" + name.removeprefix("Fn::"), inner)
            return {name: inner}
    return {key: _short(item) for key, item in value.items()}


def _is_resource_and_attribute(argument: Any) -> bool:
    # `!GetAtt A.B.C` means resource A, attribute B.C: a logical id never holds a dot.
    return (
        isinstance(argument, list)
        and len(argument) == 2
        and all(isinstance(part, str) for part in argument)
        and "." not in argument[0]
    )


class _Dumper(yaml.SafeDumper):
    def choose_scalar_style(self) -> str:
        # A tagged scalar is written with its tag, so it needs no quotes to stay a string:
        # `!Ref Vpc`, not `!Ref 'Vpc'` (PyYAML quotes every scalar it could not resolve).
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and event.tag and event.tag.startswith("!"):
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            plain = (
                self.analysis.allow_flow_plain
                if self.flow_level
                else self.analysis.allow_block_plain
            )
            if plain and not self.analysis.empty and not self.analysis.multiline:
                return ""
        return str(super().choose_scalar_style())


def _represent_function(dumper: yaml.SafeDumper, function: _Function) -> yaml.Node:
    if isinstance(function.argument, str):
        return dumper.represent_scalar(function.tag, function.argument)
    if isinstance(function.argument, list):
        return dumper.represent_sequence(function.tag, function.argument)
    return dumper.represent_mapping(function.tag, function.argument)


_Dumper.add_representer(_Function, _represent_function)


def to_yaml(template: dict[str, Any]) -> str:
    """The template as short-form CloudFormation YAML, keys sorted."""
    # default_flow_style=None: a list or map of plain values goes on one line.
    return yaml.dump(
        _short(template), Dumper=_Dumper, sort_keys=True, default_flow_style=None, width=1000
    )
