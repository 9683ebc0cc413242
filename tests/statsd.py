"""A real StatsD listener (UDP on loopback) wired into one of Airflow's stats modules, as its process does."""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

#: Airflow's stats modules -> the module holding their StatsD factory
STATS_FACTORIES = {
    "airflow.observability.stats": "airflow.observability.metrics.stats_utils",
    "airflow.sdk.observability.stats": "airflow.sdk.observability.metrics.stats_utils",
}


@contextmanager
def statsd_listener(monkeypatch: pytest.MonkeyPatch, stats_module: str) -> Iterator[socket.socket]:
    """`stats_module` initialised to send to a UDP socket here; reset to no stats afterwards."""
    module = importlib.import_module(stats_module)
    stats_utils = importlib.import_module(STATS_FACTORIES[stats_module])
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
        shared = "airflow.sdk._shared" if stats_module.startswith("airflow.sdk") else "airflow._shared"
        no_stats = importlib.import_module(f"{shared}.observability.metrics.base_stats_logger").NoStatsLogger
        module.initialize(factory=no_stats, export_legacy_names=False)
        listener.close()


def received(listener: socket.socket) -> list[str]:
    """Every line the listener got until it is quiet for its timeout."""
    lines = []
    while True:
        try:
            lines += listener.recv(65536).decode().splitlines()
        except TimeoutError:
            return lines
