"""End to end, in a real Airflow: Airflow's own asset-events API answers while event-triggered runs wait in
the queue (automation.airflow_adapter.compat), and the maintenance DAGs start unpaused."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import AirflowApi, wait_for
from tests.e2e.test_events_in_airflow import import_workflows

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]

QUEUED = {
    "key": "queued-leads", "name": "Queued leads", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "leads", "events": ["updated"]},
    "settings": {"max_active_runs": 1, "retries": 0},  # one at a time: the rest of a burst waits, not started
    "steps": [{"id": "wait", "type": "wait", "config": {"delay": "30s"}}],
}  # fmt: skip


def test_asset_events_answer_200_while_event_runs_are_queued(airflow: AirflowApi, tmp_path) -> None:
    import_workflows(tmp_path, airflow, QUEUED)
    dag_id = "automation__queued-leads"
    events = [{"entity": "leads", "event": "updated", "id": i, "new": {"id": i}, "idempotency_key": f"queued-{i}"}
              for i in range(10)]  # fmt: skip
    response = airflow.client.post("/automation/api/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text
    wait_for(lambda: airflow.runs(dag_id, state="queued") >= 2, 180, "queued runs of the burst", interval=2)

    listed = airflow.client.get("/api/v2/assets/events", params={"limit": 100, "order_by": "-timestamp"})
    assert listed.status_code == 200, listed.text  # Airflow 3.3.2 alone: 500 (apache/airflow#71360)
    created = [run for event in listed.json()["asset_events"] for run in event["created_dagruns"]]
    queued = [run for run in created if run["dag_id"] == dag_id and run["state"] == "queued"]
    assert queued and all(run["start_date"] is None for run in queued)  # the runs that used to break it
    home = airflow.client.get("/api/v2/assets/events", params={"limit": 5})  # what the UI's home page asks
    assert home.status_code == 200, home.text
    paused = airflow.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": True})  # the rest of the burst
    assert paused.status_code == 200, paused.text  # stays queued: no load left for the session's other tests


def test_the_maintenance_dags_start_unpaused(airflow: AirflowApi) -> None:
    for dag_id in ("automation_maintenance_cleanup", "automation_maintenance_daily_report"):
        dag = wait_for(lambda dag_id=dag_id: airflow.dag(dag_id), 120, f"the DAG {dag_id}")
        assert dag["is_paused"] is False, dag_id
