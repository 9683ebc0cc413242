"""A cron expression in words and its next times, for the editor's schedule and inactivity forms.

Invariant: an expression is accepted here exactly when a definition accepts it (the `Cron` and
`TimezoneName` types of definitions/triggers.py decide); the next times are those of Airflow's
`CronTriggerTimetable` for that expression in that time zone (croniter, as Airflow uses it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pendulum
from croniter import croniter
from pydantic import TypeAdapter, ValidationError

from automation.definitions.triggers import Cron, TimezoneName

NEXT_COUNT = 5
_CRON = TypeAdapter(Cron)
_ZONE = TypeAdapter(TimezoneName)


@dataclass(frozen=True)
class CronPreview:
    description: str = ""
    next: list[str] = field(default_factory=list)  # ISO 8601 with the zone's offset
    error: str | None = None


def describe(expression: str) -> str:
    """The expression in English ("At 09:00, Monday through Friday"); the expression itself when
    the describer has no words for it."""
    try:
        from cron_descriptor import ExpressionDescriptor  # type: ignore[import-untyped]

        return str(ExpressionDescriptor(expression, use_24hour_time_format=True).get_description())
    except Exception:  # an expression croniter accepts but the describer does not (e.g. @hourly, H)
        return expression


def preview(expression: str, timezone: str = "UTC", *, now: datetime | None = None) -> CronPreview:
    """The description and the next `NEXT_COUNT` times after `now`, or the definition's error."""
    try:
        _CRON.validate_python(expression)
    except ValidationError as exc:
        return CronPreview(error=exc.errors()[0]["msg"].removeprefix("Value error, "))
    try:
        zone = _ZONE.validate_python(timezone or "UTC")
    except ValidationError as exc:
        return CronPreview(description=describe(expression), error=exc.errors()[0]["msg"].removeprefix("Value error, "))
    start = pendulum.instance(now) if now is not None else pendulum.now("UTC")
    times = croniter(expression, start.in_timezone(zone))
    return CronPreview(
        description=describe(expression),
        next=[times.get_next(datetime).isoformat() for _ in range(NEXT_COUNT)],
    )
