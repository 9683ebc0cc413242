"""for_each (mapped tasks), wait (deferred), clear of a delivered email, continue_on_failure, in Airflow."""

from __future__ import annotations

import json

import pendulum
import pytest

from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.runtime.test_dag_run import rows, stored_dag, task_states
from tests.servers import smtp_server

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def create(key: str, steps: list[dict], **extra: object) -> None:
    Repository().create(validate_definition(workflow(key, steps=steps, **extra)))


def test_for_each_over_three_items_runs_three_mapped_tasks() -> None:
    create("each", [
        {"id": "lines", "type": "for_each", "config": {
            "items": "{{ params.names }}", "max_items": 5,
            "action": {"type": "create_record", "config": {
                "collection": "deals", "values": {"name": "{{ item }} #{{ index }}"}}}}},
        {"id": "after", "type": "add_note", "config": {
            "entity": "deals", "entity_id": 1, "body": "{{ steps.lines.output | length }} lines"}},
    ], trigger={"type": "manual", "inputs": {"names": {"type": "array"}}})  # fmt: skip
    run = stored_dag("each").test(run_conf={"names": ["a", "b", "c"]})
    instances = [(ti.task_id, ti.map_index, ti.state) for ti in run.get_task_instances()]
    assert sorted(i for i in instances if i[0] == "lines__each") == [
        ("lines__each", 0, "success"),
        ("lines__each", 1, "success"),
        ("lines__each", 2, "success"),
    ]
    assert sorted(r["name"] for r in rows("SELECT name FROM crm.deals")) == ["a #0", "b #1", "c #2"]
    assert rows("SELECT body FROM crm.activities") == [{"body": "3 lines"}]


def test_for_each_over_its_cap_fails_and_runs_nothing() -> None:
    create("capped", [{"id": "lines", "type": "for_each", "config": {
        "items": "{{ params.names }}", "max_items": 2,
        "action": {"type": "create_record", "config": {"collection": "deals", "values": {"name": "{{ item }}"}}}}}],
        trigger={"type": "manual"})  # fmt: skip
    run = stored_dag("capped").test(run_conf={"names": ["a", "b", "c"]})
    assert task_states(run)["lines"] == "failed"
    assert rows("SELECT * FROM crm.deals") == []


def test_wait_defers_and_resumes() -> None:
    create("waits", [
        {"id": "pause", "type": "wait", "config": {"delay": "2s"}},
        {"id": "after", "type": "create_record", "config": {"collection": "deals", "values": {"name": "after wait"}}},
    ])  # fmt: skip
    started = pendulum.now("UTC")
    run = stored_dag("waits").test(run_conf={"name": "x"})
    assert run.state == "success", task_states(run)
    (deal,) = rows("SELECT name, created_at FROM crm.deals")
    assert deal["name"] == "after wait" and (deal["created_at"] - started).total_seconds() >= 2
    pause = next(ti for ti in run.get_task_instances() if ti.task_id == "pause")
    assert pause.next_method is None and pause.state == "success"


def test_clearing_a_delivered_email_step_sends_nothing_new(monkeypatch: pytest.MonkeyPatch) -> None:
    create("mailer", [{"id": "mail", "type": "send_email", "config": {
        "to": "client@acme.test", "subject": "Hello {{ params.name }}", "body": "hi"}}])  # fmt: skip
    logical_date = pendulum.datetime(2026, 1, 5, tz="UTC")
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                     "port": port,
                                                                     "extra": {"disable_ssl": True, "disable_tls": True}}))  # fmt: skip
        first = stored_dag("mailer").test(logical_date=logical_date, run_after=logical_date, run_conf={"name": "ACME"})
        first_end = first.get_task_instances()[0].end_date
        again = stored_dag("mailer").test(
            logical_date=logical_date, run_after=logical_date, run_conf={"name": "ACME"}
        )  # a clear + re-run
    assert first.run_id == again.run_id and again.state == "success"
    (after,) = again.get_task_instances()
    assert after.start_date > first_end  # the step really ran again, and returned its recorded effect
    assert [m["Subject"] for m in mailbox.messages] == ["Hello ACME"]


def test_continue_on_failure_lets_the_workflow_go_on() -> None:
    create("tolerant", [
        {"id": "broken", "type": "update_record", "continue_on_failure": True, "retries": 0,
         "config": {"collection": "deals", "id": 999, "values": {"stage": "X"}}},
        {"id": "next", "type": "create_record", "config": {"collection": "deals", "values": {"name": "went on"}}},
    ])  # fmt: skip
    run = stored_dag("tolerant").test(run_conf={"name": "x"})
    assert task_states(run) == {"broken": "failed", "next": "success"}
    assert rows("SELECT name FROM crm.deals") == [{"name": "went on"}]


def test_a_permanent_error_is_not_retried() -> None:
    create("permanent", [{"id": "broken", "type": "update_record", "retries": 3,
                          "config": {"collection": "deals", "id": 999, "values": {"stage": "X"}}}])  # fmt: skip
    run = stored_dag("permanent").test(run_conf={"name": "x"})
    (ti,) = run.get_task_instances()
    assert ti.state == "failed" and ti.try_number == 1
