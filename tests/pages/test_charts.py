"""The server-side SVG charts: what they draw for given numbers, escaped and well-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from automation.insights.stats import DayCount
from automation.pages.charts import (
    duration_histogram,
    executions_per_day,
    histogram_bins,
    nice_ceiling,
    sparkline,
)

SVG = "{http://www.w3.org/2000/svg}"


def _days(*counts: tuple[int, int, int, int]) -> list[DayCount]:
    start = date(2026, 3, 1)
    return [
        DayCount(day=start + timedelta(days=i), success=s, failed=f, skipped=k, other=o)
        for i, (s, f, k, o) in enumerate(counts)
    ]


def _rects(svg: str, css_class: str | None = None) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [r for r in root.iter(f"{SVG}rect") if css_class is None or r.get("class") == css_class]


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (-3, 1), (1, 1), (3, 5), (7, 10), (12, 20), (0.3, 0.5), (101, 200)]
)
def test_nice_ceiling_rounds_up_to_1_2_5(value: float, expected: float) -> None:
    assert nice_ceiling(value) == pytest.approx(expected)


def test_sparkline_stacks_each_day_by_status_with_the_peak_day_full_height() -> None:
    days = _days((2, 0, 0, 0), (0, 0, 0, 0), (3, 1, 0, 0), (0, 0, 1, 1))
    svg = str(sparkline(days, width=40, height=22))
    assert 'aria-label="8 executions in 4 days, 1 failed"' in svg
    assert len(_rects(svg, "c-success")) == 2 and len(_rects(svg, "c-failed")) == 1
    assert len(_rects(svg, "c-skipped")) == 1 and len(_rects(svg, "c-other")) == 1
    # day 3 (4 runs) is the peak: its two segments fill the 20 px plot height, success at the bottom
    success, failed = _rects(svg, "c-success")[1], _rects(svg, "c-failed")[0]
    assert float(success.get("height")) + float(failed.get("height")) == pytest.approx(20)
    assert float(failed.get("y")) < float(success.get("y"))
    assert float(success.get("x")) == pytest.approx(20)  # third of four 10 px slots


def test_sparkline_of_an_idle_period_draws_no_bars() -> None:
    svg = str(sparkline(_days(*[(0, 0, 0, 0)] * 30)))
    assert _rects(svg) == [] and 'aria-label="0 executions in 30 days, 0 failed"' in svg


def test_executions_per_day_labels_a_date_every_week_ending_today_and_titles_each_day() -> None:
    days = _days(*[(1, 0, 0, 0)] * 29 + [(5, 2, 1, 0)])
    root = ET.fromstring(str(executions_per_day(days)))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text and "-" in t.text]
    assert labels == ["03-02", "03-09", "03-16", "03-23", "03-30"]
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "2026-03-30: 5 success, 2 failed, 1 skipped" in titles
    assert "Executions per day by status: 37 in 30 days" in titles
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.text and "-" not in t.text]
    assert ticks == ["0", "5", "10"]  # y axis up to the round ceiling of the busiest day (8)


def test_histogram_bins_cover_zero_to_a_round_maximum() -> None:
    bins = histogram_bins([0.5, 1.2, 1.9, 9.9, 10.0])
    assert len(bins) == 10 and bins[0][:2] == (0, 1) and bins[-1][1] == pytest.approx(10)
    assert [n for _, _, n in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert histogram_bins([]) == []


def test_duration_histogram_bars_and_readable_bin_titles() -> None:
    svg = str(duration_histogram([3, 30, 31, 95]))
    bars = _rects(svg, "c-duration")
    assert len(bars) == 10
    titles = [t.text for t in ET.fromstring(svg).iter(f"{SVG}title")]
    assert "30 s to 40 s: 2 executions" in titles  # 95 s rounds the axis up to 100 s: 10 s bins
    assert "1 min 30 s to 1 min 40 s: 1 execution" in titles


def test_chart_text_is_escaped() -> None:
    class Day:
        day = date(2026, 1, 1)
        success, failed, skipped, other = 1, 0, 0, 0

    assert "<script" not in str(sparkline([Day()]))  # numbers and dates only, but labels go through escape
    svg = str(duration_histogram([]))
    ET.fromstring(svg)
    assert _rects(svg) == []


def test_count_axes_tick_whole_numbers_even_for_a_single_run() -> None:
    for svg in (executions_per_day(_days((1, 0, 0, 0))), duration_histogram([12.0])):
        ticks = [t.text for t in ET.fromstring(str(svg)).iter(f"{SVG}text") if t.get("text-anchor") == "end"]
        assert ticks[:3] == ["0", "1", "2"]
