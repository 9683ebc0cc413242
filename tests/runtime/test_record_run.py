"""A record-event workflow run for one record without an event (`conf: {"entity_id": ...}`, what
Airflow's trigger form and REST API give): generated DAGs run with `dag.test()` (real scheduler logic,
tasks in-process) against the session's Postgres and demo CRM."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import ParamValidationError
from sqlalchemy import text

from automation.factory.build import build_dag
from automation.insights.executions import list_executions
from automation.runtime.record_run import manual_key, manual_run_trigger
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def rows(sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine().connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def new_deal(name: str, stage: str = "PROPOSITION") -> int:
    with engine().begin() as conn:
        return int(
            conn.execute(
                text("INSERT INTO crm.deals (name, amount, stage) VALUES (:n, 100, :s) RETURNING id"),
                {"n": name, "s": stage},
            ).scalar_one()
        )


def deal_workflow(key: str, **settings: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": "Note on proposals",
        "status": "ACTIVE",
        "trigger": {"type": "record_event", "entity": "deals", "events": ["created", "updated"]},
        "conditions": {"field": "deal.stage", "op": "==", "value": "PROPOSITION"},
        "settings": {"retries": 0, **settings},
        "steps": [
            {
                "id": "note",
                "type": "create_record",
                "config": {
                    "collection": "activities",
                    "values": {"body": "{{ trigger.event }} {{ deal.name }} by {{ trigger.actor }}",
                               "entity": "deals", "entity_id": "{{ trigger.id }}"},
                },
            }
        ],
    }  # fmt: skip


def stored_dag(definition: dict[str, Any]) -> Any:
    Repository().create(validate_definition(definition))
    return dag_of(definition["key"])


def dag_of(key: str) -> Any:
    """The stored workflow's DAG, built afresh (`dag.test()` keeps a run's conf in the DAG's params)."""
    stored = Repository().get(key)
    return build_dag(validate_definition(stored.with_status()), stored.version)


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def gate_error(run: Any) -> str:
    found = rows(
        "SELECT message FROM automation.step_failures WHERE run_id = :r AND task_id = 'conditions'", r=run.run_id
    )
    return found[0]["message"] if found else ""


def test_a_run_for_a_record_loads_it_and_handles_one_manual_event() -> None:
    dag = stored_dag(deal_workflow("proposal-note"))
    assert dag.params["entity_id"] is None and dag.params["event"] == "updated"  # the trigger form's fields
    deal = new_deal("ACME renewal")

    run = dag.test(run_conf={"entity_id": deal})
    assert states(run) == {"conditions": "success", "note": "success"}, gate_error(run)
    assert rows("SELECT body, entity_id FROM crm.activities") == [
        {"body": "updated ACME renewal by dag_test", "entity_id": deal}  # the user who triggered
    ]
    (event,) = rows("SELECT * FROM automation.events WHERE entity = 'deals'")  # (the step's own is activities')
    assert event["idempotency_key"] == manual_key(dag.dag_id, run.run_id)
    assert (event["entity"], event["entity_id"], event["event"], event["source"]) == ("deals", str(deal), "updated",
                                                                                     "manual")  # fmt: skip
    assert event["new_data"]["name"] == "ACME renewal" and event["old_data"] is None
    assert event["emitted_at"] is not None  # never emitted: no other workflow runs for it
    assert rows("SELECT run_id, outcome FROM automation.event_runs") == [{"run_id": run.run_id, "outcome": "ran"}]

    # the executions show the run as manual, with the record's event
    _, executions = list_executions("proposal-note")
    (execution,) = [e for e in executions if e.run_id == run.run_id]
    assert execution.run_type == "manual"
    assert execution.event is not None and execution.event["id"] == str(deal)
    assert execution.event["outcome"] == "ran" and execution.event["new"]["name"] == "ACME renewal"

    # an event name given in the conf; the conditions read the record loaded now
    with engine().begin() as conn:
        conn.execute(text("UPDATE crm.deals SET stage = 'WON' WHERE id = :i"), {"i": deal})
    run = dag_of("proposal-note").test(run_conf={"entity_id": str(deal), "event": "created"})  # "42" as well
    assert states(run) == {"conditions": "success", "note": "skipped"}
    assert rows("SELECT event FROM automation.events WHERE source = 'manual' ORDER BY id") == [
        {"event": "updated"},
        {"event": "created"},
    ]


def test_a_missing_record_or_none_named_fails_the_run_saying_which() -> None:
    dag = stored_dag(deal_workflow("missing-record"))
    run = dag.test(run_conf={"entity_id": 987654})
    assert states(run) == {"conditions": "failed", "note": "upstream_failed"}
    assert "deals record 987654 does not exist" in gate_error(run)

    run = dag_of("missing-record").test()
    assert states(run)["conditions"] == "failed"
    assert "give its id as entity_id" in gate_error(run)

    with pytest.raises(ParamValidationError, match="'forty-two' does not match"):
        dag_of("missing-record").test(run_conf={"entity_id": "forty-two"})  # Airflow checks the params' types
    assert rows("SELECT id FROM automation.events") == []  # nothing stored for a run that names no record


def test_loop_prevention_and_throttle_apply_to_runs_for_a_record() -> None:
    dag = stored_dag(deal_workflow("looping-note", throttle={"mode": "throttle", "window": 3600, "scope": "entity"}))
    deal = new_deal("Loop Ltd")

    # started by a trigger_workflow step of this same workflow: a loop, not run
    looped = {"entity_id": deal, "trigger": {"type": "workflow", "origin": {"workflow": "looping-note", "depth": 1}}}
    run = dag.test(run_conf=looped)
    assert states(run) == {"conditions": "success", "note": "skipped"}
    assert rows("SELECT outcome FROM automation.event_runs") == [{"outcome": "loop"}]

    first = dag_of("looping-note").test(run_conf={"entity_id": deal})
    assert states(first)["note"] == "success"
    second = dag_of("looping-note").test(run_conf={"entity_id": deal})  # the same record within the throttle window
    assert states(second)["note"] == "skipped"
    outcomes = rows("SELECT run_id, outcome FROM automation.event_runs WHERE outcome <> 'loop' ORDER BY event_id")
    assert outcomes == [{"run_id": first.run_id, "outcome": "ran"}, {"run_id": second.run_id, "outcome": "throttled"}]


def test_every_task_and_retry_of_a_run_reads_the_event_its_first_task_stored() -> None:
    from automation.validation import validate_definition as validate

    workflow = validate(deal_workflow("proposal-note"))
    deal = new_deal("Stable Inc")
    dag_run = SimpleNamespace(dag_id="automation__proposal-note", run_id="manual__1", conf={"entity_id": deal},
                              triggering_user_name="alice")  # fmt: skip
    first = manual_run_trigger(workflow, dag_run, {"entity_id": None, "event": "updated"})
    assert first["actor"] == "alice" and first["new"]["name"] == "Stable Inc"
    with engine().begin() as conn:
        conn.execute(text("UPDATE crm.deals SET name = 'Renamed' WHERE id = :i"), {"i": deal})
    again = manual_run_trigger(workflow, dag_run, {"entity_id": None, "event": "updated"})
    assert again == first  # the same event (same id, same record), not a new one
    assert len(rows("SELECT id FROM automation.events")) == 1
