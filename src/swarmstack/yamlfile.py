"""Read a YAML file a user hands us (spec, inventory) without letting it exhaust the machine.

Three limits are checked before any value is built: the file size, UTF-8 text, and the number
of nodes the document expands to. The last one is what stops an alias bomb: ``&a [*b, *b, ...]``
is a few hundred bytes but expands to billions of nodes once anything walks or prints it.
Aliases as such stay allowed (``<<: *defaults`` is common); only their expansion is bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UsageError

# A cluster spec is a few hundred bytes; an inventory of 1000 workers about 60 KiB.
MAX_FILE_BYTES = 256 * 1024
# Scalars plus collections after expanding every alias; 1000 hosts need about 10,000.
MAX_NODES = 100_000

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_file(path: Path, error: type[UsageError]) -> Any:
    """Parse ``path`` as YAML; every problem is raised as ``error`` with one line."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise error(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; refusing to read it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"{path}: line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8; "
            "save the file as UTF-8 text"
        ) from None
    return load_yaml_text(text, str(path), error)


def load_yaml_text(text: str, source: str, error: type[UsageError]) -> Any:
    """Parse YAML text after checking how far its aliases expand."""
    try:
        _check_expansion(text, source, error)
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise error(_yaml_problem(exc, source)) from None
    except RecursionError:
        raise error(f"{source}: nested too deeply to read") from None


def _check_expansion(text: str, source: str, error: type[UsageError]) -> None:
    """Count the nodes the document expands to, from the parser's events (nothing is built)."""
    sizes: dict[str, int] = {}  # anchor -> expanded size of the node it names
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, size so far) per open collection
    total = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                raise error(
                    f"{source}:{_where(event.start_mark)} alias *{event.anchor} refers to "
                    "a value that contains it"
                )
            size = sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append((event.anchor, 1))
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_nodes.pop()
            if anchor:
                sizes[anchor] = size
            if open_nodes:
                parent_anchor, parent_size = open_nodes.pop()
                open_nodes.append((parent_anchor, parent_size + size))
            continue
        else:
            continue
        if open_nodes:
            parent_anchor, parent_size = open_nodes.pop()
            open_nodes.append((parent_anchor, parent_size + size))
        total += size
        if total > MAX_NODES or (open_nodes and open_nodes[-1][1] > MAX_NODES):
            raise error(
                f"{source}:{_where(event.start_mark)} the document expands to more than "
                f"{MAX_NODES:,} values (YAML aliases); write it out without nested aliases"
            )


def _yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    problem = getattr(exc, "problem", None)
    return f"{source}:{_where(getattr(exc, 'problem_mark', None))} not valid YAML" + (
        f" ({problem})" if problem else ""
    )


def _where(mark: Any) -> str:
    return f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
