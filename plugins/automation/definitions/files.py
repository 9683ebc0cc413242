"""Parse definition documents (YAML or JSON text, or files holding one workflow or a list) into
plain data with bounded work: nesting deeper than `MAX_NESTING` is refused before a parser
recurses, and YAML aliases may not expand a document beyond `MAX_YAML_VALUES` values (a 500-byte
"billion laughs" document is refused instead of becoming megabytes). Every reader of definition
documents (CLI files, bundle import, the API) goes through `load_yaml` / `load_json`."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

from automation.errors import DefinitionError, Issue

DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")
MAX_NESTING = 64
MAX_YAML_VALUES = 200_000

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def too_deep(data: bytes, limit: int = MAX_NESTING) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit` (brackets inside strings do
    not count). Linear and iterative, so it is safe on any input, valid JSON or not."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def nesting_message() -> str:
    return f"nested deeper than {MAX_NESTING} levels"


class NestingError(ValueError):
    """A document nests deeper than `MAX_NESTING`."""

    def __init__(self) -> None:
        super().__init__(nesting_message())


def load_json(text: str | bytes) -> Any:
    """`json.loads` that refuses nesting deeper than `MAX_NESTING` (`NestingError`) instead of
    recursing into a RecursionError."""
    if too_deep(text.encode() if isinstance(text, str) else text):
        raise NestingError
    return json.loads(text)


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit and a bound on what aliases expand to."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise ComposerError(None, None, nesting_message(), self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node | None:
        node = super().compose_document()
        if node is not None:
            _expanded_values(node)
        return node


def _expanded_values(root: Node) -> int:
    """Values the document holds once every alias is written out; ComposerError beyond the bound
    or for an alias inside its own anchor (a cycle, which JSON cannot hold)."""
    sizes: dict[int, int] = {}
    pending: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done:
            pending.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_YAML_VALUES:
                raise ComposerError(
                    None, None, f"aliases expand the document to more than {MAX_YAML_VALUES} values; "
                    "write it out without anchors and aliases (& and *)", node.start_mark)  # fmt: skip
            continue
        if id(node) in pending:
            raise ComposerError(None, None, "an alias refers to a value that contains it", node.start_mark)
        pending.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str | bytes) -> Any:
    """`yaml.safe_load` with `BoundedLoader`: raises `yaml.YAMLError` (with the line) on deep
    nesting or alias expansion beyond the bounds."""
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def definition_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in DEFINITION_SUFFIXES and p.is_file())
    return [path]


def read_documents(path: Path) -> list[dict[str, Any]]:
    """Raw definitions in one file; a parse error is a `DefinitionError` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError([Issue("", f"cannot read file: {exc.strerror}")], source=str(path)) from exc
    try:
        data = load_json(text) if path.suffix == ".json" else load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise DefinitionError([Issue("", f"not valid {path.suffix[1:].upper()}: {exc}")], str(path)) from exc
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            where = f"[{index}]" if isinstance(data, list) else ""
            raise DefinitionError(
                [Issue(where, "expected a workflow object (a mapping with key, name, trigger, steps)")],
                str(path),
            )
    return items
