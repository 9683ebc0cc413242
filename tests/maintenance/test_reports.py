"""Daily/weekly reports: the stats of a period, stored and emailed (real SMTP on loopback)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pendulum
import pytest

from automation.factory.build import build_dag
from automation.maintenance.dags import maintenance_dags
from automation.maintenance.reports import make_report
from automation.maintenance.settings import MaintenanceSettings
from automation.store.reports import ReportStore
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.servers import smtp_server

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def test_a_report_counts_the_period_stores_it_and_emails_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = workflow("reported", name="Reported", conditions={"field": "params.name", "op": "matches", "value": "^VIP"})
    Repository().create(validate_definition(data))
    dag = build_dag(validate_definition(data), 1)
    assert dag.test(run_conf={"name": "VIP one"}).state == "success"
    assert dag.test(run_conf={"name": "not vip"}).state == "success"  # conditions false: skipped
    now = datetime.now(UTC)
    settings = MaintenanceSettings(report_recipients=("boss@acme.test",))
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                     "port": port,
                                                                     "extra": {"disable_ssl": True, "disable_tls": True}}))  # fmt: skip
        today = make_report("daily", now - timedelta(days=1), now + timedelta(minutes=1), settings)
        last_week = make_report("weekly", now - timedelta(days=14), now - timedelta(days=7), settings)
    assert today["executions"] == 2 and last_week["executions"] == 0
    (message, old) = mailbox.messages
    assert message["Subject"] == "Automation daily report: 2 executions, 0 failed"
    body = message.get_payload()
    assert "Executions: 2 (success 1, failed 0, skipped 1" in body and "reported: 2 runs" in body
    assert "no executions in this period" in old.get_payload()
    stored = {r["kind"]: r for r in ReportStore().list_reports()}
    assert stored["daily"]["data"]["overall"]["total"] == 2 and stored["daily"]["emailed_to"] == ["boss@acme.test"]
    assert stored["weekly"]["data"]["overall"]["total"] == 0


def test_running_the_same_period_again_replaces_its_report() -> None:
    since, until = datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 6, 9, tzinfo=UTC)
    first = make_report("daily", since, until, MaintenanceSettings(report_recipients=()))
    second = make_report("daily", since, until, MaintenanceSettings(report_recipients=()))
    assert first["id"] == second["id"] and len(ReportStore().list_reports("daily")) == 1


def test_report_runs_cover_the_day_or_week_before_their_cron_time() -> None:
    dags = maintenance_dags(MaintenanceSettings())
    monday_nine = pendulum.datetime(2026, 11, 16, 9, tz="UTC")
    for dag_id, days, cron in (("automation_maintenance_daily_report", 1, "0 9 * * *"),
                               ("automation_maintenance_weekly_report", 7, "0 9 * * 1")):  # fmt: skip
        from airflow.serialization.encoders import coerce_to_core_timetable

        timetable = coerce_to_core_timetable(dags[dag_id].timetable)  # what the scheduler uses
        assert timetable.summary == cron
        interval = timetable.infer_manual_data_interval(run_after=monday_nine)
        assert (interval.start, interval.end) == (monday_nine - timedelta(days=days), monday_nine)
