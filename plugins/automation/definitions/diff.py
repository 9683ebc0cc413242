"""A readable diff between two definitions: a unified diff of their YAML."""

from __future__ import annotations

import difflib
from typing import Any

import yaml


def _lines(definition: dict[str, Any]) -> list[str]:
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=120).splitlines(keepends=True)


def definition_diff(old: dict[str, Any], new: dict[str, Any], *, old_label: str, new_label: str) -> str:
    """Unified diff of the two definitions as YAML (key order kept); "" when they are equal."""
    if old == new:
        return ""
    return "".join(difflib.unified_diff(_lines(old), _lines(new), fromfile=old_label, tofile=new_label))
