"""Charts as inline SVG, drawn on the server (nothing fetched by the browser).

Each function returns markup safe to put in a page: every text in it is escaped here. Colours come
from CSS classes (`c-success`, `c-failed`, ...) so the stylesheet owns the palette.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from markupsafe import Markup, escape

from automation.pages.formatting import duration, duration_short

#: Stacking order of a day's bar, bottom first; each is a `DayCount` field and a CSS class.
SERIES = ("success", "failed", "skipped", "other")


class DayLike(Protocol):
    day: date
    success: int
    failed: int
    skipped: int
    other: int


def _total(day: DayLike) -> int:
    return sum(getattr(day, s) for s in SERIES)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at or above `value` (an axis maximum); 1 for 0 or less."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)  # pragma: no cover - the loop always returns


def _count_axis(peak: int) -> float:
    """The top of a y axis of counts: round, and at least 2 so the middle tick is a whole number."""
    return max(nice_ceiling(peak), 2)


def _fmt(number: float) -> str:
    return f"{number:.2f}".rstrip("0").rstrip(".")


def _svg(width: int, height: int, label: str, body: list[str], css_class: str) -> Markup:
    return Markup(
        f'<svg class="{css_class}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{"".join(body)}</svg>'
    )


def _day_title(day: DayLike) -> str:
    parts = ", ".join(f"{getattr(day, s)} {s}" for s in SERIES if getattr(day, s))
    return f"{day.day.isoformat()}: {parts or 'no executions'}"


def _stacked_bar(day: DayLike, x: float, width: float, bottom: float, scale: float) -> list[str]:
    rects = []
    y = bottom
    for series in SERIES:
        count = getattr(day, series)
        if not count:
            continue
        height = count * scale
        y -= height
        rects.append(
            f'<rect class="c-{series}" x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(width)}" height="{_fmt(height)}"/>'
        )
    return rects


def sparkline(days: Sequence[DayLike], *, width: int = 120, height: int = 28) -> Markup:
    """One small stacked bar per day (the table's 30-day trend)."""
    total = sum(_total(d) for d in days)
    failed = sum(d.failed for d in days)
    label = f"{total} executions in {len(days)} days, {failed} failed"
    if not days:
        return _svg(width, height, label, [], "sparkline")
    peak = max(_total(d) for d in days) or 1
    slot = width / len(days)
    bar = max(slot - 1, 1)
    body = [f'<line class="axis" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>']
    for index, day in enumerate(days):
        body += _stacked_bar(day, index * slot, bar, height - 1, (height - 2) / peak)
    return _svg(width, height, label, body, "sparkline")


def executions_per_day(days: Sequence[DayLike], *, width: int = 560, height: int = 200) -> Markup:
    """Stacked bars of executions per day by status, with a y axis and a date every week."""
    left, right, top, bottom = 40, 6, 8, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    total = sum(_total(d) for d in days)
    label = f"Executions per day by status: {total} in {len(days)} days"
    peak = _count_axis(max((_total(d) for d in days), default=0))
    body = []
    for tick in (0, peak / 2, peak):
        y = top + plot_h - tick / peak * plot_h
        body.append(f'<line class="grid" x1="{left}" y1="{_fmt(y)}" x2="{width - right}" y2="{_fmt(y)}"/>')
        body.append(f'<text class="tick" x="{left - 4}" y="{_fmt(y + 4)}" text-anchor="end">{_fmt(tick)}</text>')
    if days:
        slot = plot_w / len(days)
        for index, day in enumerate(days):
            x = left + index * slot
            bars = _stacked_bar(day, x + slot * 0.1, slot * 0.8, top + plot_h, plot_h / peak)
            title = escape(_day_title(day))
            body.append(f"<g><title>{title}</title>{''.join(bars)}</g>")
            if (len(days) - 1 - index) % 7 == 0:
                text = escape(day.day.strftime("%m-%d"))
                last = index == len(days) - 1  # the newest day's label ends at the plot's edge
                anchor, at = ("end", x + slot) if last else ("middle", x + slot / 2)
                body.append(f'<text class="tick" x="{_fmt(at)}" y="{height - 6}" text-anchor="{anchor}">{text}</text>')
    return _svg(width, height, label, body, "chart")


def histogram_bins(values: Sequence[float], count: int = 10) -> list[tuple[float, float, int]]:
    """`count` equal bins from 0 to a round maximum: (low, high, how many values in [low, high))."""
    if not values:
        return []
    top = nice_ceiling(max(values))
    size = top / count
    counts = [0] * count
    for value in values:
        counts[min(int(max(value, 0) / size), count - 1)] += 1
    return [(i * size, (i + 1) * size, n) for i, n in enumerate(counts)]


def duration_histogram(values: Sequence[float], *, width: int = 560, height: int = 200) -> Markup:
    """How many finished executions took how long (bins of equal width from 0 s)."""
    left, right, top, bottom = 40, 6, 8, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    bins = histogram_bins(values)
    label = f"Duration distribution of {len(values)} finished executions"
    peak = _count_axis(max((n for _, _, n in bins), default=0))
    body = []
    for tick in (0, peak / 2, peak):
        y = top + plot_h - tick / peak * plot_h
        body.append(f'<line class="grid" x1="{left}" y1="{_fmt(y)}" x2="{width - right}" y2="{_fmt(y)}"/>')
        body.append(f'<text class="tick" x="{left - 4}" y="{_fmt(y + 4)}" text-anchor="end">{_fmt(tick)}</text>')
    if bins:
        slot = plot_w / len(bins)
        for index, (low, high, n) in enumerate(bins):
            x = left + index * slot
            bar_h = n / peak * plot_h
            title = escape(f"{duration(low)} to {duration(high)}: {n} execution{'' if n == 1 else 's'}")
            body.append(
                f'<g><title>{title}</title><rect class="c-duration" x="{_fmt(x + slot * 0.08)}" '
                f'y="{_fmt(top + plot_h - bar_h)}" width="{_fmt(slot * 0.84)}" height="{_fmt(bar_h)}"/></g>'
            )
            if index % 2 == 0:  # every other bin's lower bound; the first one starts at the axis
                text = escape(duration_short(low))
                anchor = "start" if index == 0 else "middle"
                body.append(f'<text class="tick" x="{_fmt(x)}" y="{height - 6}" text-anchor="{anchor}">{text}</text>')
    return _svg(width, height, label, body, "chart")


class WaitLike(Protocol):
    kind: str
    reason: str
    since: datetime | None
    until: datetime | None


class StepLike(Protocol):
    step_id: str
    map_index: int
    state: str | None
    attempts: int
    queued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def waiting(self) -> WaitLike | None: ...


#: the words for why a deferred step waits (`StepWait.reason`), on the timeline and the step list
WAIT_WORDS = {
    "wait": "waits",
    "debounce": "debounce: waits for later events",
    "ordering": "waits for the record's earlier runs",
    "rate_limit": "rate limit: waits for its turn",
    "delay": "delayed start",
    "approval": "awaiting approval",
    "trigger": "deferred",
}


def wait_words(wait: WaitLike) -> str:
    """What a waiting step waits on, in words (its `until` is said apart)."""
    return WAIT_WORDS.get(wait.reason, "deferred")


def step_phrase(step: StepLike, *, now: datetime) -> str:
    """One step's timeline in words (the bar's title and the timeline table's text): queued for, ran
    for, attempts, what it waits on."""
    name = step.step_id if step.map_index < 0 else f"{step.step_id}[{step.map_index}]"
    parts = [step.state or "not started"]
    if step.queued_at is not None and (step.started_at is None or step.queued_at <= step.started_at):
        parts.append(f"queued {duration(((step.started_at or now) - step.queued_at).total_seconds())}")
    if step.started_at is not None:
        end = step.ended_at or (step.waiting.since if step.waiting and step.waiting.since else None) or now
        parts.append(f"ran {duration(max((end - step.started_at).total_seconds(), 0.0))}")
    if step.attempts > 1:
        parts.append(f"{step.attempts} attempts")
    if step.waiting is not None:
        since = step.waiting.since
        text = wait_words(step.waiting) + (f" for {duration((now - since).total_seconds())}" if since else "")
        parts.append(text + (f" until {step.waiting.until:%Y-%m-%d %H:%M:%S} UTC" if step.waiting.until else ""))
    return f"{name}: {', '.join(parts)}"


def step_timeline(steps: Sequence[StepLike], *, now: datetime, width: int = 560, row: int = 22) -> Markup:
    """One bar per step on a shared time axis that starts at the first step's queueing (or start): its
    time in the queue (queued -> started, `c-queued`), then its run (started -> ended, to `now` while it
    runs, coloured by state); a deferred step's wait is an open dashed bar up to `now` labelled with what
    it waits on; a retried step says its attempts after its bar. Steps neither queued nor started get
    only their label. Each bar's title says it all in words (`step_phrase`)."""
    label_w, right, top = 150, 8, 24  # room above the rows for the axis' labels, also at a phone's size
    marks = [t for s in steps for t in (s.queued_at, s.started_at, s.waiting.since if s.waiting else None) if t]
    origin = min(marks) if marks else now
    ends = [s.ended_at or now for s in steps if s.started_at is not None or s.queued_at is not None]
    ends += [now for s in steps if s.waiting is not None]
    span = max((max(ends) - origin).total_seconds(), 1.0) if ends else 1.0
    plot_w = width - label_w - right
    height = top + row * max(len(steps), 1) + 4
    label = f"Timeline of {len(steps)} steps over {duration(span)}"
    body = [
        f'<text class="tick" x="{label_w}" y="17">0 s</text>',
        f'<text class="tick" x="{width - right}" y="17" text-anchor="end">{escape(duration(span))}</text>',
    ]

    def x_of(moment: datetime) -> float:
        return label_w + max((moment - origin).total_seconds(), 0.0) / span * plot_w

    def rect(css: str, start: datetime, end: datetime, y: float) -> str:
        x = x_of(start)
        bar = max(x_of(end) - x, 2)
        return f'<rect class="{css}" x="{_fmt(x)}" y="{_fmt(y + 3)}" width="{_fmt(bar)}" height="{row - 8}" rx="2"/>'

    for index, step in enumerate(steps):
        y = top + index * row
        name = step.step_id if step.map_index < 0 else f"{step.step_id}[{step.map_index}]"
        state = step.state or "not started"
        body.append(f'<text class="tick" x="0" y="{_fmt(y + row * 0.65)}">{escape(name[:22])}</text>')
        wait = step.waiting
        if step.started_at is None and step.queued_at is None and wait is None:
            continue
        parts = [f"<title>{escape(step_phrase(step, now=now))}</title>"]
        if step.queued_at is not None and (step.started_at is None or step.queued_at <= step.started_at):
            parts.append(rect("c-queued", step.queued_at, step.started_at or now, y))
        bar_end = step.started_at or step.queued_at or now
        if step.started_at is not None:
            bar_end = step.ended_at or (wait.since if wait and wait.since else now)
            parts.append(rect(f"c-{_state_class(state)}", step.started_at, bar_end, y))
        if wait is not None:
            start = wait.since or bar_end
            parts.append(rect("c-waiting", start, now, y))
            late = x_of(start) > label_w + plot_w * 0.5  # its words end at the axis' end, else start at the bar
            anchor = f'x="{width - right - 2}" text-anchor="end"' if late else f'x="{_fmt(x_of(start) + 4)}"'
            parts.append(
                f'<text class="tick wait-label" {anchor} y="{_fmt(y + row * 0.65)}">{escape(wait_words(wait))}</text>'
            )
        elif step.attempts > 1:
            end_x, start_x = x_of(bar_end), x_of(step.queued_at or step.started_at or bar_end)
            if end_x + 70 <= width - right:  # after the bar, else before it, else in it
                at = f'x="{_fmt(end_x + 4)}"'
            elif start_x - 70 >= label_w:
                at = f'x="{_fmt(start_x - 4)}" text-anchor="end"'
            else:
                at = f'x="{_fmt(start_x + 4)}"'
            parts.append(f'<text class="tick attempts" {at} y="{_fmt(y + row * 0.65)}">{step.attempts} tries</text>')
        body.append(f'<g data-step="{escape(name)}">{"".join(parts)}</g>')
    return _svg(width, height, label, body, "chart timeline")


def _state_class(state: str) -> str:
    if state == "success":
        return "success"
    if state in {"failed", "upstream_failed"}:
        return "failed"
    if state == "skipped":
        return "skipped"
    return "other"
