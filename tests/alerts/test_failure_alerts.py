"""Failure streak alerts and recovery, through the DAG callbacks Airflow runs (dag.test), with a
real SMTP server on loopback and the notifications table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from automation.factory.build import build_dag
from automation.store.db import engine
from automation.store.health import WorkflowHealth
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.servers import smtp_server

pytestmark = pytest.mark.usefixtures("db", "airflow_db")

FLAKY = workflow(
    "flaky-sync",
    name="Flaky sync",
    trigger={"type": "manual", "inputs": {"deal_id": {"type": "integer", "required": True}}},
    steps=[{"id": "touch", "type": "update_record",
            "config": {"collection": "deals", "id": "{{ params.deal_id }}", "values": {"stage": "WON"}}}],
    settings={"retries": 0, "alerts": {"after_failures": 3, "email": ["ops@acme.test"]}},
)  # fmt: skip


def notifications() -> list[dict[str, Any]]:
    with engine().connect() as conn:
        rows = conn.execute(text("SELECT level, title, workflow_key FROM automation.notifications ORDER BY id"))
        return [dict(r) for r in rows.mappings()]


def test_three_failures_in_a_row_alert_once_and_the_next_success_sends_a_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Repository().create(validate_definition(FLAKY))
    stored = Repository().get("flaky-sync")
    dag = build_dag(validate_definition(stored.with_status()), stored.version)
    with engine().begin() as conn:
        deal_id = conn.execute(text("INSERT INTO crm.deals (name, amount) VALUES ('ACME', 10) RETURNING id")).scalar()
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                     "port": port,
                                                                     "extra": {"disable_ssl": True, "disable_tls": True}}))  # fmt: skip
        states = [dag.test(run_conf={"deal_id": 999_999}).state for _ in range(2)]
        assert states == ["failed", "failed"] and mailbox.messages == []  # two in a row: no alert yet
        assert dag.test(run_conf={"deal_id": 999_999}).state == "failed"
        assert [m["Subject"] for m in mailbox.messages] == ["Workflow 'Flaky sync' failed 3 times in a row"]
        assert mailbox.envelopes == [["ops@acme.test"]]
        assert dag.test(run_conf={"deal_id": 999_999}).state == "failed"  # still failing: no second alert
        assert len(mailbox.messages) == 1 and WorkflowHealth().streak("flaky-sync") == (4, True)

        assert dag.test(run_conf={"deal_id": deal_id}).state == "success"
        assert [m["Subject"] for m in mailbox.messages][1:] == ["Workflow 'Flaky sync' recovered"]
        assert dag.test(run_conf={"deal_id": deal_id}).state == "success"
        assert len(mailbox.messages) == 2  # recovered once
    assert WorkflowHealth().streak("flaky-sync") == (0, False)
    assert [(n["level"], n["workflow_key"]) for n in notifications()] == [("error", "flaky-sync"),
                                                                          ("success", "flaky-sync")]  # fmt: skip
    assert "/dags/automation__flaky-sync/runs/" in mailbox.messages[0].get_payload()


def test_the_same_run_reported_twice_counts_once() -> None:
    health = WorkflowHealth()
    assert [health.record_run("w", f"r{i}", failed=True, threshold=2) for i in (1, 2)] == [None, "alert"]
    assert health.record_run("w", "r2", failed=True, threshold=2) is None
    assert health.record_run("w", "r3", failed=False, threshold=2) == "recovered"
    assert health.record_run("w", "r3", failed=False, threshold=2) is None
    assert health.streak("w") == (0, False)


def test_a_deadline_setting_gives_the_dag_an_airflow_deadline_alert() -> None:
    from airflow.sdk import DeadlineReference

    data = {**FLAKY, "settings": {"alerts": {"deadline": "10m", "email": ["ops@acme.test"]}}}
    dag = build_dag(validate_definition(data), 1)
    (deadline,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert deadline.interval.total_seconds() == 600
    assert isinstance(deadline.reference, type(DeadlineReference.DAGRUN_QUEUED_AT))
    assert deadline.callback.path == "automation.alerts.deadline.deadline_missed"
    assert deadline.callback.kwargs["recipients"] == ["ops@acme.test"]
    assert build_dag(validate_definition(FLAKY), 1).deadline in (None, [])
