"""How numbers, durations and times read on the pages (also the Jinja filters)."""

from __future__ import annotations

from datetime import UTC, datetime

EMPTY = "\u2013"  # an en dash: no value


def duration(seconds: float | None) -> str:
    if seconds is None:
        return EMPTY
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


def duration_short(seconds: float) -> str:
    """An axis tick: one unit, at most one decimal ("40 s", "1.3 min", "2 h")."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{round(seconds / size, 1):g} {unit}"
    return f"{round(seconds, 1):g} s"


def percent(ratio: float | None) -> str:
    if ratio is None:
        return EMPTY
    value = ratio * 100
    return f"{value:.0f}%" if value in (0, 100) or value >= 10 else f"{value:.1f}%"


def when(moment: datetime | None) -> str:
    """A UTC timestamp to the minute, the same for every viewer (the page is rendered on the server)."""
    if moment is None:
        return EMPTY
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""
