"""Automation metrics reach a real StatsD listener (UDP on loopback) through Airflow's stats module."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from automation.factory.build import build_dag
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.statsd import received, statsd_listener

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """Airflow's Task SDK stats initialised as a task process does, sending to a UDP socket here."""
    with statsd_listener(monkeypatch, "airflow.sdk.observability.stats") as listener:
        yield listener


def test_runs_skipped_started_and_step_durations_are_counted(statsd: socket.socket) -> None:
    guarded = workflow("vip-only", conditions={"field": "params.name", "op": "matches", "value": "^VIP"})
    Repository().create(validate_definition(guarded))
    dag = build_dag(validate_definition(guarded), 1)
    assert dag.test(run_conf={"name": "small fish"}).state == "success"
    assert dag.test(run_conf={"name": "VIP deal"}).state == "success"
    metrics = received(statsd)
    names = {line.split(":")[0].removeprefix("airflow.") for line in metrics}  # Airflow's statsd_prefix
    assert "automation.runs.skipped.vip-only.conditions_false" in names
    assert {"automation.runs.started.vip-only", "automation.runs.succeeded.vip-only"} <= names
    durations = [line for line in metrics if line.startswith("airflow.automation.step.duration.vip-only.create_deal:")]
    assert len(durations) == 1 and durations[0].endswith("|ms")


def test_events_received_are_counted_once_per_new_event(statsd: socket.socket) -> None:
    from automation.events.ingest import ingest
    from automation.events.models import EventIn

    event = EventIn(entity="deals", event="updated", id=7, new={"stage": "WON"}, idempotency_key="once")
    ingest([event])
    ingest([event])  # the same idempotency key again: stored once, counted once
    counted = [
        line for line in received(statsd) if line.startswith("airflow.automation.events.received.deals.updated:")
    ]
    assert counted == ["airflow.automation.events.received.deals.updated:1|c"]
