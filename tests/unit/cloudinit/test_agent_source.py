"""The node agent's source as the user data ships it: compact, and of shared modules only the
part the agent imports."""

from __future__ import annotations

import ast

from swarmstack import contract
from swarmstack.cloudinit.agent import AGENT_MODULES, shipped_source


def top_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for statement in ast.parse(source).body:
        if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.add(statement.target.id)
        elif isinstance(statement, ast.Assign):
            names |= {t.id for t in statement.targets if isinstance(t, ast.Name)}
    return names


def imported_from_contract() -> set[str]:
    names: set[str] = set()
    for module in AGENT_MODULES:
        if module == "swarmstack.contract":
            continue
        for node in ast.walk(ast.parse(shipped_source(module))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("contract"):
                names |= {alias.name for alias in node.names}
    return names


def test_the_shipped_contract_is_what_the_agent_imports_with_the_same_values() -> None:
    shipped = shipped_source("swarmstack.contract")
    wanted = imported_from_contract()
    assert {"SWARM_PORT", "quorum", "CLUSTER_TAG"} <= wanted
    assert top_level_names(shipped) == wanted
    # Azure's legacy tag is no business of an AWS node.
    assert "LEGACY_AZURE_CLUSTER_TAG" not in shipped
    namespace: dict[str, object] = {"T": object}
    exec(compile(shipped, "contract", "exec"), namespace)  # noqa: S102 - our own source
    for name in wanted - {"quorum"}:
        assert namespace[name] == getattr(contract, name), name
    assert namespace["quorum"](5) == contract.quorum(5)  # type: ignore[operator]


def test_the_agent_modules_ship_whole() -> None:
    source = shipped_source("swarmstack.provisioners.nodeagent.decisions")
    assert "def " in source
    assert '"""' not in source  # docstrings are left in the repository
