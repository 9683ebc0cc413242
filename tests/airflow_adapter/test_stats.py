"""`airflow_adapter.stats` against the installed Airflow: a metric reaches a real StatsD listener (UDP on
loopback) through the core stats module (servers) and through the Task SDK's (task processes)."""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterator

import pytest

from automation.airflow_adapter import stats


def received(listener: socket.socket) -> list[str]:
    lines = []
    while True:
        try:
            lines += listener.recv(65536).decode().splitlines()
        except TimeoutError:
            return lines


@pytest.fixture(params=stats.STATS_MODULES)
def statsd(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """One of Airflow's stats modules initialised as its process does, sending to a UDP socket here."""
    module = importlib.import_module(request.param)
    factories = {"airflow.observability.stats": "airflow.observability.metrics.stats_utils",
                 "airflow.sdk.observability.stats": "airflow.sdk.observability.metrics.stats_utils"}  # fmt: skip
    stats_utils = importlib.import_module(factories[request.param])
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.2)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(listener.getsockname()[1]))
    module.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    try:
        yield listener
    finally:
        shared = "airflow.sdk._shared" if request.param.startswith("airflow.sdk") else "airflow._shared"
        no_stats = importlib.import_module(f"{shared}.observability.metrics.base_stats_logger").NoStatsLogger
        module.initialize(factory=no_stats, export_legacy_names=False)
        listener.close()


def test_counts_and_timings_reach_statsd(statsd: socket.socket) -> None:
    from datetime import timedelta

    stats.send("incr", ["automation.adapter.count", "automation.adapter.count.wf"], 2, {"workflow": "wf"})
    stats.send("timing", ["automation.adapter.took"], timedelta(milliseconds=12), {})
    lines = received(statsd)
    names = {line.split(":")[0].removeprefix("airflow.") for line in lines}
    assert {"automation.adapter.count", "automation.adapter.count.wf", "automation.adapter.took"} <= names
    assert any(line.endswith("|ms") and "adapter.took" in line for line in lines)


def test_a_broken_backend_never_breaks_the_caller() -> None:
    stats.send("no_such_method", ["automation.adapter.none"], 1, {})
