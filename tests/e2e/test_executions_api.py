"""Executions and stats over HTTP against a real Airflow: a failed event run read, fixed and retried,
a waiting run cancelled, a viewer reading but not changing, with real JWTs."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from automation.store.db import engine
from tests.e2e.conftest import AirflowApi, wait_for, wait_for_schedule

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]
API = "/automation/api/v1"
DEAL_ID = 880001
#: Airflow's execution API builds its versioned routes on the first task start and blocks the
#: api-server's event loop meanwhile (about 30 s on a busy 2-core machine): polls wait that out.
SLOW = 180

CLOSER = {
    "key": "exec-closer", "name": "Close big orders", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "exec_orders", "events": ["updated"]},
    "conditions": {"field": "new.amount", "op": ">", "value": 100},
    "settings": {"retries": 0},
    "steps": [{"id": "close_deal", "type": "update_record",
               "config": {"collection": "deals", "id": "{{ trigger.id }}", "values": {"stage": "WON"}}}],
}  # fmt: skip
WAITER = {
    "key": "exec-waiter", "name": "Wait an hour", "status": "ACTIVE",
    "trigger": {"type": "manual"},
    "steps": [{"id": "hold", "type": "wait", "config": {"delay": "1h"}}],
}  # fmt: skip


def create(airflow: AirflowApi, definition: dict) -> None:
    response = airflow.client.post(f"{API}/workflows", json=definition)
    assert response.status_code == 201, response.text
    wait_for(lambda: airflow.dag(f"automation__{definition['key']}"), 90, f"the DAG of {definition['key']}")


def execution(airflow: AirflowApi, key: str, run_id: str) -> dict:
    response = airflow.client.get(f"{API}/workflows/{key}/executions/{run_id}", timeout=SLOW)
    assert response.status_code == 200, response.text
    return response.json()


def post_event(airflow: AirflowApi, amount: int) -> int:
    event = {"entity": "exec_orders", "event": "updated", "id": DEAL_ID,
             "new": {"id": DEAL_ID, "amount": amount}, "old": {"id": DEAL_ID, "amount": 0}}  # fmt: skip
    response = airflow.client.post(f"{API}/events", json=event)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def only_run(airflow: AirflowApi, key: str, status: str, event_id: int) -> dict:
    def found() -> dict | None:
        page = airflow.client.get(f"{API}/workflows/{key}/executions", params={"status": status}, timeout=SLOW).json()
        return next((e for e in page["executions"] if (e["event"] or {}).get("event_id") == event_id), None)

    return wait_for(found, 240, f"a {status} execution of event {event_id}")


def test_failed_run_is_read_retried_after_a_fix_and_a_waiting_run_cancelled(airflow: AirflowApi) -> None:
    create(airflow, CLOSER)
    create(airflow, WAITER)
    wait_for_schedule(airflow, "automation__exec-closer")  # the trigger's asset registered with the DAG
    api = airflow.client
    viewer = AirflowApi(airflow.base, "viewer", "viewer").client

    # an event whose step fails: the record to update does not exist
    failing_event = post_event(airflow, 500)
    failed = only_run(airflow, "exec-closer", "failed", failing_event)
    assert failed["version"] == 1 and failed["event"]["outcome"] == "ran" and failed["event"]["new"]["amount"] == 500
    assert failed["airflow_url"] == f"/dags/automation__exec-closer/runs/{failed['airflow_url'].rsplit('/', 1)[1]}"
    run_id = failed["run_id"]
    assert airflow.get(f"/dags/automation__exec-closer/dagRuns/{run_id}")["state"] == "failed"
    steps = {s["step_id"]: s for s in execution(airflow, "exec-closer", run_id)["steps"]}
    assert steps["conditions"]["state"] == "success"
    assert steps["close_deal"]["state"] == "failed" and str(DEAL_ID) in steps["close_deal"]["error"]

    # an event the conditions turn down: a skipped execution
    skipped_event = post_event(airflow, 5)
    only_run(airflow, "exec-closer", "skipped", skipped_event)

    # the viewer reads everything and changes nothing
    assert viewer.get(f"{API}/workflows/exec-closer/executions").status_code == 200
    assert viewer.get(f"{API}/workflows/exec-closer/executions/{run_id}").status_code == 200
    assert viewer.get(f"{API}/stats").status_code == 200
    assert viewer.get(f"{API}/workflows/exec-closer/stats").status_code == 200
    assert viewer.post(f"{API}/workflows/exec-closer/executions/{run_id}/retry").status_code == 403
    assert viewer.post(f"{API}/workflows/exec-closer/executions/{run_id}/cancel").status_code == 403
    assert httpx.get(f"{airflow.base}{API}/workflows/exec-closer/executions", timeout=30).status_code == 401

    # fix the cause, retry: Airflow re-runs the failed step and the run succeeds
    with engine().begin() as conn:
        conn.execute(text(f"INSERT INTO crm.deals (id, name) VALUES ({DEAL_ID}, 'Fixed by hand')"))
    retried = api.post(f"{API}/workflows/exec-closer/executions/{run_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] in {"queued", "running", "success"}
    done = wait_for(
        lambda: (e := execution(airflow, "exec-closer", run_id))["status"] in {"success", "failed"} and e,
        240,
        "the retried run",
    )
    assert done["status"] == "success", done
    close = next(s for s in done["steps"] if s["step_id"] == "close_deal")
    assert close["attempts"] == 2 and close["error"] is None and close["failed_attempts"][0]["try_number"] == 1
    with engine().connect() as conn:
        assert conn.execute(text(f"SELECT stage FROM crm.deals WHERE id = {DEAL_ID}")).scalar_one() == "WON"
    assert api.post(f"{API}/workflows/exec-closer/executions/{run_id}/retry").status_code == 409

    stats = api.get(f"{API}/workflows/exec-closer/stats").json()
    assert (stats["total"], stats["success"], stats["failed"], stats["skipped"]) == (2, 1, 0, 1)
    assert stats["failing_steps"][0]["step_id"] == "close_deal" and stats["failing_steps"][0]["failures"] == 1
    overall = api.get(f"{API}/stats", params={"key": ["exec-closer", "exec-waiter"]}).json()
    assert [w["key"] for w in overall["workflows"]] == ["exec-closer", "exec-waiter"]
    assert (
        api.get(f"{API}/stats", params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}).json()[
            "errors"
        ][0]["path"]
        == "since"
    )
    assert api.get(f"{API}/workflows/exec-closer/executions", params={"status": "done"}).status_code == 422
    assert api.get(f"{API}/workflows/nope/executions").status_code == 404
    assert api.get(f"{API}/workflows/exec-closer/executions/manual__nope").status_code == 404

    # a run waiting on its `wait` step (deferred) is cancelled: failed in Airflow, its step stopped
    waiting = airflow.post("/dags/automation__exec-waiter/dagRuns", {"logical_date": None})["dag_run_id"]
    wait_for(
        lambda: any(s["state"] == "deferred" for s in execution(airflow, "exec-waiter", waiting)["steps"]),
        180,
        "the wait step to defer",
    )
    cancelled = api.post(f"{API}/workflows/exec-waiter/executions/{waiting}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "failed"
    assert airflow.get(f"/dags/automation__exec-waiter/dagRuns/{waiting}")["state"] == "failed"
    hold = next(s for s in cancelled.json()["steps"] if s["step_id"] == "hold")
    assert hold["state"] == "failed"
    assert api.post(f"{API}/workflows/exec-waiter/executions/{waiting}/cancel").status_code == 409
