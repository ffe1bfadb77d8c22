"""The node agent as files in the user data (AWS) and custom data (Azure): its Python
modules, settings and unit.

The agent (swarmstack.provisioners.nodeagent) is shipped as source, laid out as the package
it is in (with swarmstack.contract, which it shares with the rest of swarmstack), under
AGENT_LIB; Debian's python3 (and on AWS python3-boto3) run it. Nothing secret is in these
files.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
from typing import Any

from ..provisioners.swarmapi import init_options as swarm_init_options
from ..spec import Cloud, ClusterSpec
from .tuning import LOCAL_LOG_OPTS, ManagedFile

AGENT_LIB = "/usr/local/lib/swarmstack"
AGENT_COMMAND = "/usr/local/sbin/swarmstack-agent"
AGENT_CONFIG = "/etc/swarmstack/agent.json"
AGENT_UNIT = "swarmstack-agent.service"
AGENT_PACKAGE = "swarmstack.provisioners.nodeagent"
# The modules the agent imports, by name; their source is what the nodes run.
AGENT_MODULES = (
    "swarmstack.contract",
    "swarmstack.provisioners.swarmapi",
    f"{AGENT_PACKAGE}.decisions",
    f"{AGENT_PACKAGE}.engine",
    f"{AGENT_PACKAGE}.aws",
    f"{AGENT_PACKAGE}.main",
    f"{AGENT_PACKAGE}.__main__",
)
# Azure nodes add the Azure adapter (main imports it only there; stdlib only).
AZURE_MODULES = (f"{AGENT_PACKAGE}.azure", f"{AGENT_PACKAGE}.azure_shapes")
# Modules the rest of swarmstack uses too: the agent gets only the part it imports.
SHARED_MODULES = ("swarmstack.contract", "swarmstack.provisioners.swarmapi")
# Packages on the way down get a one-line __init__ (the real ones import what nodes lack).
AGENT_PACKAGES = ("swarmstack", "swarmstack.provisioners", AGENT_PACKAGE)
# Debian's own packages the agent runs on (python3 comes with cloud-init), per cloud.
AGENT_PACKAGES_DEB: dict[Cloud, tuple[str, ...]] = {"aws": ("python3-boto3",), "azure": ()}


def agent_modules(cloud: Cloud) -> tuple[str, ...]:
    return AGENT_MODULES + (AZURE_MODULES if cloud == "azure" else ())


@functools.cache  # the sources do not change while swarmstack runs; compacting them is slow
def shipped_source(module: str, modules: tuple[str, ...] = AGENT_MODULES) -> str:
    """The module's code without docstrings, comments and type annotations: the repository
    keeps the readable form, the user data (16 KB, inside a 51,200-byte template) the compact
    one. Dataclass fields keep a one-letter annotation (dataclasses need one; with postponed
    evaluation it is never evaluated). Imports left unused by that go too, and of a shared
    module (SHARED_MODULES) only what the agent's modules (`modules`) import from it is
    shipped."""
    tree = _Compact().visit(_parse(module))
    wanted = _imported_from(module, modules)
    if module not in SHARED_MODULES:
        wanted |= {n for s in tree.body if not _is_import(s) for n in _defined(s)}
    _keep_only(tree, wanted)
    return f"# {module} (swarmstack node agent; readable source in swarmstack)\n" + (
        ast.unparse(tree) + "\n"
    )


def _parse(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{module}: not found")
    with open(spec.origin, encoding="utf-8") as file:
        return ast.parse(file.read())


def _imported_from(imported: str, modules: tuple[str, ...]) -> set[str]:
    """The names the agent's other modules import from one of its modules (at run time: not
    those imported for the type checker only)."""
    leaf = imported.rsplit(".", 1)[1]
    names: set[str] = set()
    for module in modules:
        if module == imported:
            continue
        for node in ast.walk(_Compact().visit(_parse(module))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == leaf:
                names |= {alias.name for alias in node.names}
    return names


def _is_import(statement: ast.stmt) -> bool:
    return isinstance(statement, (ast.Import, ast.ImportFrom))


def _defined(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
        return set()  # always kept
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    targets = statement.targets if isinstance(statement, ast.Assign) else []
    if isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    return {
        node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)
    }


def _keep_only(tree: ast.Module, wanted: set[str]) -> None:
    """Drop top-level definitions and imports nothing wanted needs (what they use is kept)."""
    keep = set(wanted)
    while True:
        kept = [s for s in tree.body if not _defined(s) or _defined(s) & keep]
        used = {n.id for s in kept for n in ast.walk(s) if isinstance(n, ast.Name)}
        if used <= keep:
            break
        keep |= used
    missing = wanted - {name for s in tree.body for name in _defined(s)}
    if missing:
        raise RuntimeError(f"the node agent imports {sorted(missing)}, which are not defined")
    tree.body = kept


class _Compact(ast.NodeTransformer):
    def generic_visit(self, node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            body[:] = body[1:] or [ast.Pass()]
        return super().generic_visit(node)

    def visit_If(self, node: ast.If) -> ast.AST | None:
        # `if TYPE_CHECKING:` blocks hold imports for the type checker only.
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return None
        return self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        return self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        node.annotation = ast.Name("T")
        return node


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def init_options(spec: ClusterSpec) -> dict[str, Any]:
    """The Engine API's /swarm/init options for the spec (the SSH bootstrap's, autolock off:
    nothing on a cloud node could keep the unlock key)."""
    return swarm_init_options(
        default_addr_pool=spec.default_addr_pool,
        subnet_size=spec.default_addr_pool_mask_length,
        data_path_port=spec.data_path_port,
        cert_expiry_hours=spec.cert_expiry_hours,
    )


def agent_settings(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "init": init_options(spec),
        "fixed_ports": sorted(spec.published_ports),
        "local_log_opts": dict(LOCAL_LOG_OPTS),
        "drain_managers": not spec.managers_accept_workloads,
    }


def _path(module: str) -> str:
    return f"{AGENT_LIB}/{module.replace('.', '/')}.py"


def agent_files(spec: ClusterSpec, cloud: Cloud = "aws") -> tuple[ManagedFile, ...]:
    files = [
        ManagedFile(_path(f"{package}.__init__"), f'"""{package} (node agent)"""\n')
        for package in AGENT_PACKAGES
    ]
    modules = agent_modules(cloud)
    # Azure nodes start the Azure adapter, which runs the same loops (main.py) with it.
    entry = AZURE_MODULES[0] if cloud == "azure" else AGENT_PACKAGE
    files += [ManagedFile(_path(module), shipped_source(module, modules)) for module in modules]
    files += [
        ManagedFile(
            AGENT_CONFIG, json.dumps(agent_settings(spec), indent=1, sort_keys=True) + "\n"
        ),
        ManagedFile(
            AGENT_COMMAND,
            f'#!/bin/sh\nPYTHONPATH={AGENT_LIB} exec /usr/bin/python3 -m {entry} "$@"\n',
            mode=0o755,
        ),
        ManagedFile(f"/etc/systemd/system/{AGENT_UNIT}", _unit()),
    ]
    return tuple(files)


def _unit() -> str:
    # Restarted on failure: a boot that could not reach AWS or the swarm tries again.
    return (
        "[Unit]\n"
        "Description=swarmstack node agent: joins the swarm, heals it (managers)\n"
        "Wants=network-online.target\n"
        "After=network-online.target docker.service\n"
        "Requires=docker.service\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={AGENT_COMMAND} run\n"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )
