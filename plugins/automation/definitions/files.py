"""Read workflow definitions from YAML or JSON files (one workflow or a list per file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from automation.errors import DefinitionError, Issue

DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")


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
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
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
