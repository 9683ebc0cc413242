"""Dotted-path access into nested dicts and lists (`deal.owner.email`, `items.0.sku`)."""

from __future__ import annotations

from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>", "__bool__": lambda self: False})()


def resolve(data: Any, path: str) -> Any:
    """The value at `path`, or `MISSING` when any part of the path is absent."""
    current = data
    for part in path.split(".") if path else []:
        if isinstance(current, dict):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list | tuple) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current
