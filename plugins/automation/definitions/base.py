"""Shared pydantic building blocks for definitions: strict models, durations, slugs."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetPydanticSchema

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
#: what a duration written as text looks like ("30s", "5m", "2h", "1d", or bare seconds)
DURATION_RE = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|d)?\s*$")
_UNIT_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a definition must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _to_seconds(value: int | str) -> int:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value
    match = DURATION_RE.match(value)
    if not match:
        raise ValueError('expected seconds as an integer or a string like "30s", "5m", "2h", "1d"')
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


#: What a definition may write for a duration: seconds or "30s" / "5m" / "2h" / "1d".
_DurationInput = Annotated[
    int | Annotated[str, Field(pattern=DURATION_RE.pattern)],
    AfterValidator(_to_seconds),
]

#: A duration in whole seconds: an `int` to the code (and to mypy), validated from `_DurationInput`, which is also
#: its JSON schema, so definitions and the reference still accept "30s" / "5m" / "2h" / "1d".
Duration = Annotated[int, GetPydanticSchema(lambda _source, handler: handler(_DurationInput))]

Slug = Annotated[str, Field(pattern=SLUG_PATTERN, description="lowercase letters, digits, - and _")]


class PathError(ValueError):
    """A validator error that knows the field path it is about (pydantic only knows the model)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")
