"""Turn pydantic errors into `Issue`s with paths like `steps[2].config.to`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from automation.definitions.base import PathError
from automation.definitions.triggers import ENTITY_TAGS, TRIGGER_TYPES
from automation.definitions.webhooks import SCHEMES
from automation.errors import Issue

_UNION_ALTERNATIVES = frozenset({"clause", "int", "constrained-str", *ENTITY_TAGS})
_GROUP_KEYS = frozenset({"all", "any", "not", "jsonlogic"})
DURATION_HINT = 'expected seconds as an integer or a string like "30s", "5m", "2h", "1d"'


def join_path(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _clean_loc(loc: tuple[Any, ...]) -> list[str | int]:
    """Drop the tagged-union member names pydantic puts in locations; a user never wrote them."""
    cleaned: list[str | int] = []
    for index, part in enumerate(loc):
        following = loc[index + 1] if index + 1 < len(loc) else None
        if part in _UNION_ALTERNATIVES:
            continue
        if part in TRIGGER_TYPES and cleaned and cleaned[-1] == "trigger":
            continue
        if part in SCHEMES and cleaned and cleaned[-1] == "verification":
            continue
        if part in _GROUP_KEYS and following == part:
            continue
        cleaned.append(part)
    return cleaned


def _message(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key; remove it or check its spelling"
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "union_tag_invalid":
        ctx = error.get("ctx", {})
        field = str(ctx.get("discriminator", "'type'")).strip("'")  # `type`, or a webhook's `scheme`
        return f"unknown {field} {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags', '')}"
    if error["loc"] and error["loc"][-1] in {"int", "constrained-str"}:
        return DURATION_HINT
    message = error["msg"]
    return message.removeprefix("Value error, ")


def issues_from_validation_error(exc: ValidationError, prefix: str = "") -> list[Issue]:
    issues: list[Issue] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        original = error.get("ctx", {}).get("error")
        loc = _clean_loc(tuple(error["loc"]))
        if isinstance(original, PathError):
            path = join_path([*([prefix] if prefix else []), *loc])
            path = f"{path}.{original.path}" if path else original.path
            issues.append(Issue(path, original.message))
            continue
        path = join_path([*([prefix] if prefix else []), *loc])
        if path not in seen:  # a union reports once per alternative; one message per path is enough
            seen.add(path)
            issues.append(Issue(path, _message(error)))
    return issues
