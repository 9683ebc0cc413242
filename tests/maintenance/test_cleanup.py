"""Retention cleanup on real Airflow runs (dag.test) and the real automation store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from automation.factory.build import build_dag
from automation.maintenance.cleanup import cleanup
from automation.maintenance.settings import MaintenanceSettings
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def automation_rows(sql: str) -> list[Any]:
    with engine().connect() as conn:
        return list(conn.execute(text(sql)).scalars())


def airflow_runs(dag_id: str) -> list[str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(DagRun.run_id).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after)))


def age_runs(dag_id: str, run_ids: list[str], days: int) -> None:
    """Move runs `days` back in time, keeping their order (a minute apart)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    oldest = datetime.now(UTC) - timedelta(days=days, minutes=len(run_ids))
    with create_session() as session:
        for i, run_id in enumerate(run_ids):
            session.execute(
                update(DagRun)
                .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
                .values(run_after=oldest + timedelta(minutes=i))
            )


def run_times(key: str, n: int, **overrides: Any) -> list[str]:
    Repository().create(validate_definition(workflow(key, **overrides)))
    stored = Repository().get(key)
    dag = build_dag(validate_definition(stored.with_status()), stored.version)
    for i in range(n):
        assert dag.test(run_conf={"name": f"{key} {i}"}).state == "success"
    return airflow_runs(dag.dag_id)


def test_cleanup_removes_runs_past_retention_but_keeps_the_newest_and_recent_ones() -> None:
    short = run_times("short-lived", 4, settings={"retention_days": 7})
    long = run_times("long-lived", 2, settings={"retention_days": 365})
    age_runs("automation__short-lived", short[:3], days=30)  # 3 old runs, 1 recent
    age_runs("automation__long-lived", long, days=30)  # old, but inside 365 days
    with engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO automation.events (idempotency_key, entity, event, received_at, emitted_at) VALUES "
                "('old', 'deals', 'updated', now() - interval '400 days', now() - interval '400 days'), "
                "('old-unemitted', 'deals', 'updated', now() - interval '400 days', NULL), "
                "('new', 'deals', 'updated', now(), now())"
            )
        )

    report = cleanup(datetime.now(UTC), MaintenanceSettings(keep_last_runs=2, batch_size=1))

    # short-lived: the 3 old runs are past 7 days, but the newest 2 are always kept -> 2 deleted
    assert airflow_runs("automation__short-lived") == short[2:]
    assert airflow_runs("automation__long-lived") == long
    assert report.runs_deleted == {"automation__short-lived": 2}
    effect_runs = automation_rows(
        "SELECT DISTINCT run_id FROM automation.effects WHERE dag_id = 'automation__short-lived'"
    )
    assert sorted(effect_runs) == sorted(short[2:])
    pinned = automation_rows("SELECT run_id FROM automation.run_versions WHERE dag_id = 'automation__short-lived'")
    assert sorted(pinned) == sorted(short[2:])
    assert report.rows_deleted["effects"] == 4 and report.rows_deleted["run_versions"] == 2
    # ledger: only the emitted event older than the longest retention (365 days) goes
    keys = automation_rows(
        "SELECT idempotency_key FROM automation.events WHERE idempotency_key NOT LIKE 'step:%' ORDER BY id"
    )
    assert keys == ["old-unemitted", "new"]
    assert report.events_deleted == 1
    assert "removed 2 Airflow runs" in report.summary()


def test_a_second_cleanup_removes_nothing() -> None:
    runs = run_times("again", 3, settings={"retention_days": 1})
    age_runs("automation__again", runs, days=10)
    settings = MaintenanceSettings(keep_last_runs=1)
    assert cleanup(datetime.now(UTC), settings).runs_deleted == {"automation__again": 2}
    second = cleanup(datetime.now(UTC), settings)
    assert second.runs_deleted == {} and second.rows_deleted == {} and second.events_deleted == 0
    assert airflow_runs("automation__again") == runs[2:]


def test_notifications_and_deliveries_older_than_the_longest_retention_go_unread_and_failed_too() -> None:
    Repository().create(validate_definition(workflow("kept-long", settings={"retention_days": 365})))
    with engine().begin() as conn:
        for title, age in (("ancient", 400), ("year-old", 300), ("recent", 1)):
            conn.execute(text("INSERT INTO automation.notifications (recipient, title, created_at) "
                              "VALUES ('carla', :title, now() - make_interval(days => :age))"),
                         {"title": title, "age": age})  # fmt: skip
            conn.execute(text("INSERT INTO automation.notification_deliveries (channel, title, status, created_at) "
                              "VALUES ('slack:ops', :title, 'failed', now() - make_interval(days => :age))"),
                         {"title": title, "age": age})  # fmt: skip

    report = cleanup(datetime.now(UTC), MaintenanceSettings(default_retention_days=30, batch_size=1))

    # the longest retention is the workflow's 365 days: only the 400-day-old message goes, from both tables
    assert automation_rows("SELECT title FROM automation.notifications ORDER BY id") == ["year-old", "recent"]
    assert automation_rows("SELECT title FROM automation.notification_deliveries ORDER BY id") == ["year-old", "recent"]
    assert report.rows_deleted == {"notifications": 1, "notification_deliveries": 1}
    assert "1 notifications" in report.summary() and "1 notification_deliveries" in report.summary()
    assert cleanup(datetime.now(UTC), MaintenanceSettings(default_retention_days=30)).rows_deleted == {}
