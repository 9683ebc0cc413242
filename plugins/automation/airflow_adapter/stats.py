"""Airflow's metrics backends (StatsD, OpenTelemetry or Datadog, as Airflow's [metrics] section says).

Relies on: `airflow.observability.stats` (core's, initialised in Airflow's servers and the scheduler)
and `airflow.sdk.observability.stats` (the Task SDK's, initialised in task processes): their
`incr`/`timing` and `normalize_name_for_stats`. Both are re-exports of Airflow's shared stats module;
there is no other way for a plugin to send metrics through the backend Airflow configured. The one not
initialised in a process is a no-op there, so sending through both reports once."""

from __future__ import annotations

import importlib
import logging
from typing import Any

log = logging.getLogger(__name__)
STATS_MODULES = ("airflow.observability.stats", "airflow.sdk.observability.stats")


def send(method: str, names: list[str], value: Any, tags: dict[str, str]) -> None:
    """`method` (`incr`, `timing`) of each stats module, for each name; never raises."""
    for module in STATS_MODULES:
        try:
            stats = importlib.import_module(module)
            for name in names:
                getattr(stats, method)(stats.normalize_name_for_stats(name, log_warning=False), value, tags=tags)
        except Exception:  # metrics never break what they measure
            log.debug("metric %s not sent through %s", names[0] if names else "", module, exc_info=True)
