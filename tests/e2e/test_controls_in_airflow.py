"""End to end in a running Airflow: a workflow's pool holds a third run's step until one of the two
running finishes, and a run past its `run_timeout` fails."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ENV
from tests.e2e.conftest import AirflowApi, wait_for
from tests.servers import http_server

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]


def import_workflow(tmp_path: Path, definition: dict[str, Any]) -> None:
    path = tmp_path / f"{definition['key']}.yaml"
    path.write_text(yaml.safe_dump(definition))
    result = subprocess.run([sys.executable, "-m", "automation", "import", str(path)], env={**os.environ, **ENV},
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr


def run_state(airflow: AirflowApi, dag_id: str, run_id: str) -> str:
    return str(airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"])


def test_a_pool_of_two_holds_the_third_runs_step_until_one_finishes(airflow: AirflowApi, tmp_path: Path) -> None:
    airflow.post("/pools", {"name": "e2e_two_slots", "slots": 2})
    lock, release = threading.Lock(), threading.Semaphore(0)
    calls = {"in_flight": 0, "most": 0}

    def respond(request: Any, n: int) -> tuple[int, dict[str, str], bytes]:
        with lock:
            calls["in_flight"] += 1
            calls["most"] = max(calls["most"], calls["in_flight"])
        release.acquire(timeout=240)  # the step holds its pool slot until the test lets it finish
        with lock:
            calls["in_flight"] -= 1
        return 200, {}, b'{"ok": true}'

    with http_server(respond) as (requests, base):
        try:
            import_workflow(tmp_path, {
                "key": "pooled-calls", "name": "Pooled calls", "status": "ACTIVE", "trigger": {"type": "manual"},
                "settings": {"pool": "e2e_two_slots", "retries": 0},
                "steps": [{"id": "call", "type": "http_request",
                           "config": {"url": f"{base}/hold", "attempts": 1, "timeout": 250}}],
            })  # fmt: skip
            dag_id = "automation__pooled-calls"
            wait_for(lambda: airflow.dag(dag_id), 120, "the pooled DAG in Airflow")
            runs = [airflow.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"] for _ in range(3)]

            def pool() -> dict[str, Any]:
                return dict(airflow.get("/pools/e2e_two_slots"))

            wait_for(lambda: len(requests) == 2 and pool()["scheduled_slots"] + pool()["queued_slots"] == 1, 180,
                     "two steps calling and the third held by the pool")  # fmt: skip
            time.sleep(5)  # a few scheduler loops: the third stays held while both slots are taken
            assert len(requests) == 2 and pool()["running_slots"] == 2
            release.release()
            wait_for(lambda: len(requests) == 3, 120, "the third run's step to start once a slot is free")
            release.release(2)
            wait_for(lambda: all(run_state(airflow, dag_id, r) == "success" for r in runs), 180, "the three runs")
            assert calls["most"] == 2
        finally:
            release.release(3)


def test_a_run_past_its_run_timeout_fails(airflow: AirflowApi, tmp_path: Path) -> None:
    import_workflow(tmp_path, {
        "key": "timed-run", "name": "Timed run", "status": "ACTIVE", "trigger": {"type": "manual"},
        "settings": {"run_timeout": "5s"},
        "steps": [{"id": "pause", "type": "wait", "config": {"delay": "10m"}}],
    })  # fmt: skip
    dag_id = "automation__timed-run"
    wait_for(lambda: airflow.dag(dag_id), 120, "the timed DAG in Airflow")
    run_id = airflow.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]
    assert wait_for(lambda: run_state(airflow, dag_id, run_id) in {"failed", "success"} and
                    run_state(airflow, dag_id, run_id), 120, "the run to end") == "failed"  # fmt: skip
    task = airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/pause")
    assert task["state"] != "success"


RATED = {
    "key": "rated-leads", "name": "Rated leads", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "leads", "events": ["created"]},
    "settings": {"rate_limit": {"max": 5, "per": "10s"}, "retries": 0, "max_active_runs": 50},
    "steps": [{"id": "log", "type": "create_record", "config": {"collection": "activities", "values": {
        "body": "rated {{ trigger.id }}", "entity": "leads", "entity_id": "{{ trigger.id }}"}}}],
}  # fmt: skip


def test_a_rate_limit_of_5_per_10_s_runs_all_12_events_never_more_than_5_in_10_s(
    airflow: AirflowApi, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from automation.store.db import engine
    from tests.e2e.conftest import wait_for_schedule

    import_workflow(tmp_path, RATED)
    wait_for_schedule(airflow, "automation__rated-leads", timeout=90)
    with engine().connect() as conn:
        sent = conn.execute(text("SELECT now()")).scalar_one()
    events = [{"entity": "leads", "event": "created", "id": i, "new": {"id": i}, "idempotency_key": f"rated-{i}"}
              for i in range(12)]  # fmt: skip
    response = airflow.client.post("/automation/api/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text

    def started() -> list[float]:
        with engine().connect() as conn:
            rows = conn.execute(text("SELECT created_at FROM crm.activities WHERE body LIKE 'rated %'")).scalars()
            return sorted((at - sent).total_seconds() for at in rows)

    offsets = wait_for(lambda: (found := started()) and len(found) == 12 and found, 300, "12 rated runs", 1)
    # a step starts at its reserved time or later: the first 10 s after the burst hold at most 5 of them,
    # and 12 events at 5 per 10 s need at least 20 s
    assert sum(1 for offset in offsets if offset < 10) <= 5
    assert offsets[-1] >= 20
    time.sleep(3)
    assert len(started()) == 12  # none dropped, none twice
