"""Automation metrics through Airflow's own metrics backend (StatsD or OpenTelemetry, as Airflow's
[metrics] section configures): events received, runs succeeded/failed/skipped, step durations.

A metric is sent under its name with tags (OpenTelemetry, tagged StatsD) and under the name with the
tag values appended (`automation.runs.failed.<workflow>`), so plain StatsD keeps the per-workflow split.
Airflow's servers initialise the core stats module and task processes the Task SDK's; the other one is
a no-op in each process, so calling both reports once."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)
STATS_MODULES = ("airflow._shared.observability.metrics.stats", "airflow.sdk._shared.observability.metrics.stats")


def _send(method: str, stat: str, value: Any, tags: dict[str, str]) -> None:
    names = [stat, ".".join([stat, *tags.values()])] if tags else [stat]
    for module in STATS_MODULES:
        try:
            stats = importlib.import_module(module)
            for name in names:
                getattr(stats, method)(stats.normalize_name_for_stats(name, log_warning=False), value, tags=tags)
        except Exception:  # metrics never break what they measure
            log.debug("metric %s not sent through %s", stat, module, exc_info=True)


def count(stat: str, n: int = 1, **tags: str) -> None:
    _send("incr", stat, n, tags)


def timing(stat: str, seconds: float, **tags: str) -> None:
    _send("timing", stat, timedelta(seconds=seconds), tags)
