"""Automation metrics through Airflow's own metrics backend (StatsD or OpenTelemetry, as Airflow's
[metrics] section configures): events received, runs succeeded/failed/skipped, step durations.

A metric is sent under its name with tags (OpenTelemetry, tagged StatsD) and under the name with the
tag values appended (`automation.runs.failed.<workflow>`), so plain StatsD keeps the per-workflow split.
Airflow's servers initialise the core stats module and task processes the Task SDK's; the other one is
a no-op in each process, so calling both reports once (`airflow_adapter.stats`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from automation.airflow_adapter import stats


def _send(method: str, stat: str, value: Any, tags: dict[str, str]) -> None:
    names = [stat, ".".join([stat, *tags.values()])] if tags else [stat]
    stats.send(method, names, value, tags)


def count(stat: str, n: int = 1, **tags: str) -> None:
    _send("incr", stat, n, tags)


def timing(stat: str, seconds: float, **tags: str) -> None:
    _send("timing", stat, timedelta(seconds=seconds), tags)
