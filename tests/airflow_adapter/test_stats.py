"""`airflow_adapter.stats` against the installed Airflow: a metric reaches a real StatsD listener (UDP on
loopback) through the core stats module (servers) and through the Task SDK's (task processes)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from automation.airflow_adapter import stats
from tests.statsd import received, statsd_listener


@pytest.fixture(params=stats.STATS_MODULES)
def statsd(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """One of Airflow's stats modules initialised as its process does, sending to a UDP socket here."""
    with statsd_listener(monkeypatch, request.param) as listener:
        yield listener


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
