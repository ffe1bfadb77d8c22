"""The ARM template expression language: `[function(args).property[index]]`.

A JSON string is an expression when it starts with '[' and ends with ']'; '[[' at the start
escapes one literal '['. Inside: function calls (names are case-insensitive), string literals in
single quotes ('' is one quote), integers, true/false/null, property access `.name` and
indexing `[expression]`. `if()` evaluates only the branch it picks, as Resource Manager does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ArmError

Function = Callable[[list[Any]], Any]


class FunctionError(Exception):
    """Raised by a template function; the evaluator adds the function and expression."""


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Property:
    target: Node
    name: str


@dataclass(frozen=True)
class Index:
    target: Node
    index: Node


Node = Literal | Call | Property | Index

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<int>-?\d+)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<punct>[(),.\[\]]))"
)
_KEYWORDS = {"true": True, "false": False, "null": None}


def is_expression(text: str) -> bool:
    return text.startswith("[") and text.endswith("]") and not text.startswith("[[")


def unescape(text: str) -> str:
    """A literal string: '[[' at the start stands for '['."""
    return text[1:] if text.startswith("[[") else text


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(source):
            if not source[position:].strip():
                break
            match = _TOKEN.match(source, position)
            if match is None or match.lastgroup is None:
                raise self._error(f"unexpected character {source[position:].lstrip()[:1]!r}")
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.next = 0

    def _error(self, problem: str) -> ArmError:
        return ArmError(
            "InvalidTemplate", f"{problem}{self._hint()} in expression '[{self.source}]'"
        )

    def _hint(self) -> str:
        """A string literal followed at once by a name is most often a quote left single."""
        pairs = zip(self.tokens, self.tokens[1:], strict=False)
        if any(a[0] == "string" and b[0] == "name" for a, b in pairs):
            return " (a quote inside a string literal is written twice: '')"
        return ""

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.next] if self.next < len(self.tokens) else None

    def _take(self, text: str | None = None) -> tuple[str, str, int]:
        token = self._peek()
        if token is None:
            wanted = f"expected {text!r}" if text else "a ')' or ']' missing?"
            raise self._error(f"the expression ended early ({wanted})")
        if text is not None and token[1] != text:
            raise self._error(f"expected {text!r} at position {token[2]}, found {token[1]!r}")
        self.next += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise self._error("empty expression")
        node = self._expression()
        extra = self._peek()
        if extra is not None:
            raise self._error(f"unexpected {extra[1]!r} at position {extra[2]}")
        return node

    def _expression(self) -> Node:
        node = self._primary()
        while (token := self._peek()) is not None and token[1] in (".", "["):
            self._take()
            if token[1] == ".":
                kind, name, at = self._take()
                if kind != "name":
                    raise self._error(f"expected a property name at position {at}, found {name!r}")
                node = Property(node, name)
            else:
                node = Index(node, self._expression())
                self._take("]")
        return node

    def _primary(self) -> Node:
        kind, text, at = self._take()
        if kind == "string":
            return Literal(text[1:-1].replace("''", "'"))
        if kind == "int":
            return Literal(int(text))
        if kind != "name":
            raise self._error(f"unexpected {text!r} at position {at}")
        following = self._peek()
        if following is None or following[1] != "(":
            if text.lower() in _KEYWORDS:
                return Literal(_KEYWORDS[text.lower()])
            raise self._error(f"'{text}' at position {at} is not a function call or literal")
        self._take("(")
        args: list[Node] = []
        if (closing := self._peek()) is not None and closing[1] == ")":
            self._take(")")
            return Call(text, ())
        while True:
            args.append(self._expression())
            separator = self._take()
            if separator[1] == ")":
                return Call(text, tuple(args))
            if separator[1] != ",":
                raise self._error(
                    f"expected ',' or ')' at position {separator[2]}, found {separator[1]!r}"
                )


def parse(expression: str) -> Node:
    """Parse one expression, with or without its enclosing brackets."""
    source = expression[1:-1] if is_expression(expression) else expression
    return _Parser(source).parse()


class Evaluator:
    """Evaluates parsed expressions against a table of functions (lower-case names)."""

    def __init__(self, functions: Mapping[str, Function]) -> None:
        self.functions = functions

    def evaluate_text(self, text: str) -> Any:
        """A template string: an expression's value, or the literal text."""
        if not is_expression(text):
            return unescape(text)
        return self.evaluate(parse(text), text)

    def evaluate(self, node: Node, source: str) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Property):
            return _member(self.evaluate(node.target, source), node.name, source)
        if isinstance(node, Index):
            target = self.evaluate(node.target, source)
            index = self.evaluate(node.index, source)
            if isinstance(index, str):
                return _member(target, index, source)
            return _item(target, index, source)
        name = node.name.lower()
        if name == "if":  # lazy, as in Resource Manager: only the chosen branch is evaluated
            if len(node.args) != 3:
                raise _function_error(node.name, "expects 3 arguments", source)
            condition = self.evaluate(node.args[0], source)
            if not isinstance(condition, bool):
                raise _function_error(node.name, "the condition must be a boolean", source)
            return self.evaluate(node.args[1 if condition else 2], source)
        function = self.functions.get(name)
        if function is None:
            raise ArmError(
                "InvalidTemplate",
                f"the template function '{node.name}' is not known (or not supported by this "
                f"simulation) in expression '{source}'",
            )
        args = [self.evaluate(arg, source) for arg in node.args]
        try:
            return function(args)
        except FunctionError as error:
            raise _function_error(node.name, str(error), source) from None


def _function_error(name: str, problem: str, source: str) -> ArmError:
    return ArmError(
        "InvalidTemplate",
        f"Unable to evaluate template language function '{name}': {problem}; "
        f"in expression '{source}'",
    )


def _member(target: Any, name: str, source: str) -> Any:
    if not isinstance(target, Mapping):
        raise ArmError(
            "InvalidTemplate",
            f"the language expression property '{name}' cannot be read from a "
            f"{type_name(target)} in expression '{source}'",
        )
    if name in target:
        return target[name]
    for key, value in target.items():  # property names are case-insensitive in ARM
        if key.lower() == name.lower():
            return value
    available = ", ".join(sorted(target)) or "none"
    raise ArmError(
        "InvalidTemplate",
        f"the language expression property '{name}' doesn't exist, available properties are "
        f"'{available}'; in expression '{source}'",
    )


def _item(target: Any, index: Any, source: str) -> Any:
    if not isinstance(target, list) or not isinstance(index, int) or isinstance(index, bool):
        raise ArmError(
            "InvalidTemplate",
            f"cannot index a {type_name(target)} with a {type_name(index)} in expression "
            f"'{source}'",
        )
    if not 0 <= index < len(target):
        raise ArmError(
            "InvalidTemplate",
            f"the index {index} is out of range (the array has {len(target)} items) in "
            f"expression '{source}'",
        )
    return target[index]


def type_name(value: Any) -> str:
    """ARM's names for JSON types, for messages."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, Mapping):
        return "Object"
    return "Null" if value is None else type(value).__name__
