"""Run for a record against a real Airflow: a record-event workflow started for one deal from Airflow's
own REST API (`conf: {"entity_id": ...}`, what the trigger form sends) and from the plugin's
`POST /workflows/{key}/run`; the record is loaded through the registry, the run is manual in the
executions, a missing record is a 404 at `entity_id`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from automation.store.db import engine
from tests.e2e.conftest import AirflowApi, wait_for

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]
API = "/automation/api/v1"
KEY = "run-for-record"
DAG_ID = f"automation__{KEY}"
#: Airflow's execution API builds its routes on the first task start (tens of s on a busy machine)
SLOW = 240

WORKFLOW = {
    "key": KEY, "name": "Note on proposals", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "deals", "events": ["created", "updated"]},
    "conditions": {"field": "deal.stage", "op": "==", "value": "PROPOSITION"},
    "settings": {"retries": 2, "retry_delay": 2},  # a missing record fails at once all the same
    "steps": [{"id": "note", "type": "create_record",
               "config": {"collection": "activities",
                          "values": {"body": "{{ trigger.event }} {{ deal.name }} by {{ trigger.actor }}",
                                     "entity": "deals", "entity_id": "{{ trigger.id }}"}}}],
}  # fmt: skip


def new_deal(name: str) -> int:
    with engine().begin() as conn:
        return int(
            conn.execute(
                text("INSERT INTO crm.deals (name, amount, stage) VALUES (:n, 10, 'PROPOSITION') RETURNING id"),
                {"n": name},
            ).scalar_one()
        )


def notes() -> list[str]:
    with engine().connect() as conn:
        return list(conn.execute(text("SELECT body FROM crm.activities ORDER BY id")).scalars())


def succeeds(airflow: AirflowApi, run_id: str) -> None:
    def state() -> str | None:
        found = airflow.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        return found if found in {"success", "failed"} else None

    if wait_for(state, SLOW, f"the run {run_id} to finish") != "success":
        steps = {
            s["task_id"]: (s["state"], s["error"], s["failed_attempts"]) for s in execution(airflow, run_id)["steps"]
        }
        raise AssertionError(f"the run {run_id} failed: {steps}")


def execution(airflow: AirflowApi, run_id: str) -> dict[str, Any]:
    response = airflow.client.get(f"{API}/workflows/{KEY}/executions/{run_id}", timeout=SLOW)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_run_for_a_record_from_airflows_rest_api_and_from_the_plugin_route(airflow: AirflowApi) -> None:
    api = airflow.client
    response = api.post(f"{API}/workflows", json=WORKFLOW)
    assert response.status_code == 201, response.text
    wait_for(lambda: airflow.dag(DAG_ID), 90, f"the DAG {DAG_ID}")
    params = airflow.get(f"/dags/{DAG_ID}/details")["params"]
    assert {"entity_id", "event"} <= set(params)  # the trigger form asks for the record
    deal = new_deal("Run Ltd")

    # Airflow's own REST API, with the record's id in the conf
    run = airflow.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"entity_id": deal}})
    succeeds(airflow, run["dag_run_id"])
    assert notes() == ["updated Run Ltd by admin"]
    shown = execution(airflow, run["dag_run_id"])
    assert shown["run_type"] == "manual"
    assert shown["event"]["id"] == str(deal) and shown["event"]["outcome"] == "ran"
    assert shown["event"]["new"]["name"] == "Run Ltd"

    # the plugin's route: the record is checked first, the run id comes back
    response = api.post(f"{API}/workflows/{KEY}/run", json={"entity_id": deal, "event": "created"})
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["conf"] == {"entity_id": deal, "event": "created"} and started["run_type"] == "manual"
    succeeds(airflow, started["run_id"])
    assert notes() == ["updated Run Ltd by admin", "created Run Ltd by admin"]
    assert execution(airflow, started["run_id"])["event"]["event"] == "created"

    # a viewer may read the workflow's runs, not start one
    viewer = AirflowApi(airflow.base, "viewer", "viewer").client
    assert viewer.post(f"{API}/workflows/{KEY}/run", json={"entity_id": deal}).status_code == 403

    # a run id already used is refused; a missing record is a 404 at entity_id, and starts nothing
    again = api.post(f"{API}/workflows/{KEY}/run", json={"entity_id": deal, "run_id": started["run_id"]})
    assert again.status_code == 409 and again.json()["errors"][0]["path"] == "run_id"
    runs_before = airflow.runs(DAG_ID)
    missing = api.post(f"{API}/workflows/{KEY}/run", json={"entity_id": 987654321})
    assert missing.status_code == 404, missing.text
    assert missing.json()["errors"] == [{"path": "entity_id", "message": "deals record 987654321 does not exist"}]
    assert airflow.runs(DAG_ID) == runs_before
