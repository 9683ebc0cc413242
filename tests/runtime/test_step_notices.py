"""Step notification policies through the callbacks Airflow runs (`dag.test()`: real scheduler
logic, retries included), a real SMTP server and a real HTTP server on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from automation.alerts.send import send_alert
from automation.definitions.notices import StepNotice
from automation.errors import DefinitionError
from automation.factory.build import build_dag
from automation.runtime.callbacks import StepNoticeCallback
from automation.runtime.step_notices import render_notice
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.servers import Recorded, http_server, smtp_server

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def rows(sql: str) -> list[dict[str, Any]]:
    with engine().connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def erp_sync(url: str) -> dict[str, Any]:
    return workflow(
        "notices-sync",  # not a key of the e2e scenarios: dag.test's runs stay in the session's Airflow DB
        name="ERP sync",
        trigger={"type": "manual", "inputs": {"name": {"type": "string", "required": True},
                                              "owner": {"type": "string", "required": True}}},
        steps=[
            {"id": "create_deal", "type": "create_record",
             "config": {"collection": "deals", "values": {"name": "{{ params.name }}", "amount": 10}},
             "notify": {"on_success": {"title": "Deal {{ output.id }} created"}}},
            {"id": "push", "name": "Push to ERP", "type": "http_request", "retries": 2, "retry_delay": 0,
             "config": {"url": f"{url}/invoices", "json": {"deal": "{{ steps.create_deal.output.id }}"},
                        "attempts": 1},
             "notify": {"on_retry": {},
                        "on_failure": {"email": ["ops@acme.test"], "notification": False},
                        "on_success": {"email": ["{{ params.owner }}"], "notification": False,
                                       "title": "{{ params.name }} is in the ERP ({{ output.status }})",
                                       "body": "Deal {{ steps.create_deal.output.id }}, try {{ attempt }}"}}},
            {"id": "mark", "type": "update_record",
             "config": {"collection": "deals", "id": "{{ steps.create_deal.output.id }}", "values": {"stage": "WON"}}},
        ],
        settings={"retries": 0, "notify_steps": {"on_failure": {"level": "error"}}},
    )  # fmt: skip


def run_sync(url: str, mailbox_port: int, monkeypatch: pytest.MonkeyPatch, name: str) -> Any:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                 "port": mailbox_port,
                                                                 "extra": {"disable_ssl": True, "disable_tls": True}}))  # fmt: skip
    Repository().create(validate_definition(erp_sync(url)))
    stored = Repository().get("notices-sync")
    dag = build_dag(validate_definition(stored.with_status()), stored.version)
    return dag.test(run_conf={"name": name, "owner": "sales@acme.test"})


def fails_twice(request: Recorded, n: int) -> tuple[int, dict[str, str], bytes]:
    return (503, {}, b'{"error": "busy"}') if n <= 2 else (201, {}, b'{"id": "INV-1"}')


def test_a_step_failing_twice_then_succeeding_sends_two_retry_notices_and_one_success(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with smtp_server() as (mailbox, port), http_server(fails_twice) as (requests, url):
        run = run_sync(url, port, monkeypatch, "ACME")
    assert run.state == "success"
    assert len(requests) == 3
    (deal,) = rows("SELECT id, stage FROM crm.deals")
    assert deal["stage"] == "WON"  # each step's effect once, after the retries
    assert [
        (n["level"], n["title"]) for n in rows("SELECT level, title FROM automation.notifications ORDER BY id")
    ] == [
        ("success", f"Deal {deal['id']} created"),
        ("warning", "Step 'Push to ERP' of 'ERP sync' failed (attempt 1 of 3); retrying"),
        ("warning", "Step 'Push to ERP' of 'ERP sync' failed (attempt 2 of 3); retrying"),
    ]
    retry_body = rows("SELECT body FROM automation.notifications WHERE level = 'warning' LIMIT 1")[0]["body"]
    assert "returned 503" in retry_body
    assert [m["Subject"] for m in mailbox.messages] == ["ACME is in the ERP (201)"]  # no failure email
    assert mailbox.envelopes == [["sales@acme.test"]]
    assert f"Deal {deal['id']}, try 3" in mailbox.messages[0].get_payload()


def test_a_step_that_keeps_failing_sends_its_failure_email_once_and_later_steps_do_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with smtp_server() as (mailbox, port), http_server(lambda r, n: (500, {}, b"down")) as (requests, url):
        run = run_sync(url, port, monkeypatch, "Globex")
    assert run.state == "failed" and len(requests) == 3
    assert rows("SELECT stage FROM crm.deals") == [{"stage": "QUALIFICATION"}]  # `mark` never ran
    levels = [n["level"] for n in rows("SELECT level FROM automation.notifications ORDER BY id")]
    assert levels == ["success", "warning", "warning"]  # the failure notice of `push` is an email only
    assert [m["Subject"] for m in mailbox.messages] == ["Step 'Push to ERP' of 'ERP sync' failed"]
    assert mailbox.envelopes == [["ops@acme.test"]]
    assert "Gave up after attempt 3 of 3" in mailbox.messages[0].get_payload()
    assert "returned 500" in mailbox.messages[0].get_payload()


def test_a_notice_is_sent_at_most_once_per_step_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    once = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1, "kind": "success", "attempt": 0}
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                     "port": port,
                                                                     "extra": {"disable_ssl": True, "disable_tls": True}}))  # fmt: skip
        sent = [
            send_alert(key="w", dag_id="d", run_id="r", level="success", title="done", body="", once=once,
                       recipients=["a@acme.test"])
            for _ in range(2)
        ]  # fmt: skip
    assert sent == [True, False]
    assert len(mailbox.messages) == 1 and len(rows("SELECT id FROM automation.notifications")) == 1


def test_a_notice_template_that_fails_still_sends_the_default_text() -> None:
    values = {"step": {"name": "push"}, "workflow": {"name": "W"}, "run": {"id": "r"}, "attempt": 1,
              "max_attempts": 3, "error": "boom"}  # fmt: skip
    message = render_notice("failure", StepNotice(title="{{ nope.missing }}"), values)
    assert message["title"] == "Step 'push' of 'W' failed"
    assert "boom" in message["body"] and "nope" in message["body"] and message["level"] == "error"


def test_a_policy_builds_callbacks_only_for_the_notices_it_has() -> None:
    dag = build_dag(validate_definition(erp_sync("http://127.0.0.1:1")), 1)
    push, mark = dag.get_task("push"), dag.get_task("mark")
    assert [repr(c) for c in push.on_retry_callback if isinstance(c, StepNoticeCallback)] == [
        "StepNoticeCallback('retry')"
    ]
    assert any(isinstance(c, StepNoticeCallback) for c in mark.on_failure_callback)  # settings.notify_steps
    assert not mark.on_success_callback


def test_a_notice_with_no_recipient_and_no_notification_is_refused() -> None:
    data = erp_sync("http://127.0.0.1:1")
    data["steps"][0]["notify"] = {"on_failure": {"notification": False}}
    with pytest.raises(DefinitionError, match=r"steps\[0\]\.notify\.on_failure"):
        validate_definition(data)


def test_the_dry_run_shows_each_notice_as_the_first_attempt_renders_it() -> None:
    from automation.runtime.dry_run import dry_run

    report = dry_run(validate_definition(erp_sync("http://127.0.0.1:1")), 1, {"name": "ACME", "owner": "s@acme.test"})
    plans = {p.step: p for p in report.steps}
    assert plans["create_deal"].notices["on_success"]["title"] == f"Deal {plans['create_deal'].output['id']} created"
    push = plans["push"].notices
    assert push["on_retry"]["title"] == "Step 'Push to ERP' of 'ERP sync' failed (attempt 1 of 3); retrying"
    assert (push["on_failure"]["recipients"], push["on_failure"]["level"]) == (["ops@acme.test"], "error")
    assert push["on_success"]["recipients"] == ["s@acme.test"]
    # the HTTP call is described, not made: what depends on its output shows as written
    assert push["on_success"]["title"] == "{{ params.name }} is in the ERP ({{ output.status }})"
    assert push["on_failure"]["body"] == "Gave up after attempt 3 of 3.\nError: (the step's error)"
    assert set(plans["mark"].notices) == {"on_failure"}  # settings.notify_steps
    assert rows("SELECT id FROM crm.deals") == []  # nothing kept
