"""Operations in a real Airflow: `airflow backfill create` and `airflow tasks clear` on a scheduled
workflow, and the maintenance DAGs running where Airflow blocks its ORM in task processes."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from automation.local.stack import bin_path
from automation.store.db import engine
from tests.conftest import ENV
from tests.e2e.conftest import AirflowApi, wait_for
from tests.e2e.test_workflows_in_airflow import cli

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]

DIGEST = {
    "key": "nightly-digest",
    "name": "Nightly digest",
    "status": "ACTIVE",
    "trigger": {"type": "schedule", "cron": "0 6 * * *", "timezone": "UTC"},
    "steps": [{"id": "note", "type": "create_record", "config": {"collection": "deals", "values": {
        "name": "Digest {{ run.data_interval_start[:10] }}", "amount": 1}}}],
}  # fmt: skip


def airflow_cli(*args: str) -> str:
    done = subprocess.run([bin_path("airflow"), *args], env={**os.environ, **ENV}, capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def digests() -> list[str]:
    with engine().connect() as conn:
        return list(
            conn.execute(text("SELECT name FROM crm.deals WHERE name LIKE 'Digest 2026-01-%' ORDER BY name")).scalars()
        )


def finished_runs(airflow: AirflowApi, dag_id: str, **params: Any) -> list[dict[str, Any]]:
    runs = airflow.get(f"/dags/{dag_id}/dagRuns", limit=100, **params)["dag_runs"]
    return [r for r in runs if r["state"] in {"success", "failed"}]


def test_backfill_runs_each_interval_with_its_own_dates_and_clear_repeats_no_effect(
    airflow: AirflowApi, tmp_path
) -> None:
    (tmp_path / "digest.yaml").write_text(yaml.safe_dump(DIGEST))
    cli("import", str(tmp_path / "digest.yaml"))
    dag_id = "automation__nightly-digest"
    wait_for(lambda: airflow.dag(dag_id), 120, "the scheduled workflow's DAG")

    airflow_cli("backfill", "create", "--dag-id", dag_id, "--from-date", "2026-01-01T00:00:00+00:00",
                "--to-date", "2026-01-03T23:00:00+00:00")  # fmt: skip
    runs = wait_for(lambda: len(r := finished_runs(airflow, dag_id, run_type="backfill")) == 3 and r, 240,
                    "three backfill runs")  # fmt: skip
    assert {r["state"] for r in runs} == {"success"}
    assert sorted(r["logical_date"][:10] for r in runs) == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert digests() == ["Digest 2026-01-01", "Digest 2026-01-02", "Digest 2026-01-03"]

    first = min(runs, key=lambda r: r["logical_date"])
    ended = airflow.get(f"/dags/{dag_id}/dagRuns/{first['dag_run_id']}/taskInstances/note")["end_date"]
    # Airflow 3.3.2 matches -t as a substring of task ids (not the regex its help promises)
    airflow_cli("tasks", "clear", dag_id, "-t", "note", "-s", "2026-01-01", "-e", "2026-01-01T12:00:00", "-y")

    def rerun_done() -> Any:
        ti = airflow.get(f"/dags/{dag_id}/dagRuns/{first['dag_run_id']}/taskInstances/note")
        return ti["state"] == "success" and ti["end_date"] != ended and ti

    ti = wait_for(rerun_done, 180, "the cleared step to run again", interval=5)
    assert ti["try_number"] == 2
    assert digests() == ["Digest 2026-01-01", "Digest 2026-01-02", "Digest 2026-01-03"]  # no second record


def task_report(airflow: AirflowApi, dag_id: str, run_id: str) -> str:
    """The states and first-try logs of a run's tasks, for a failure message."""
    lines = []
    for ti in airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]:
        lines.append(f"{ti['task_id']}: {ti['state']} (try {ti['try_number']})")
        log = airflow.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/1")
        lines.append(log.text[-3000:])
    return "\n".join(lines)


def test_maintenance_dags_run_in_airflow(airflow: AirflowApi) -> None:
    for dag_id in ("automation_maintenance_cleanup", "automation_maintenance_daily_report"):
        wait_for(lambda d=dag_id: airflow.dag(d), 120, f"the {dag_id} DAG")
        response = airflow.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert response.status_code == 200, response.text
        run = airflow.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None})

        def done(d: str = dag_id, r: str = run["dag_run_id"]) -> str | None:
            state = airflow.get(f"/dags/{d}/dagRuns/{r}")["state"]
            return state if state in {"success", "failed"} else None

        try:
            state = wait_for(done, 600, f"the {dag_id} run")
        except AssertionError:
            state = None
        assert state == "success", task_report(airflow, dag_id, run["dag_run_id"])
    with engine().connect() as conn:
        kinds = list(conn.execute(text("SELECT kind FROM automation.reports")).scalars())
    # the manual run's report, and the scheduled runs' (the DAGs start unpaused; catchup=False: the latest)
    assert "daily" in kinds and set(kinds) <= {"daily", "weekly"}


def test_a_run_past_its_deadline_raises_the_airflow_deadline_alert(airflow: AirflowApi, tmp_path) -> None:
    slow = {
        "key": "slow-sync", "name": "Slow sync", "status": "ACTIVE", "trigger": {"type": "manual"},
        "steps": [{"id": "pause", "type": "wait", "config": {"delay": "60s"}}],
        "settings": {"alerts": {"deadline": "5s"}},
    }  # fmt: skip
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(slow))
    cli("import", str(tmp_path / "slow.yaml"))
    wait_for(lambda: airflow.dag("automation__slow-sync"), 120, "the slow workflow's DAG")
    run = airflow.post("/dags/automation__slow-sync/dagRuns", {"logical_date": None})

    def late_notice() -> list[dict[str, Any]]:
        with engine().connect() as conn:
            rows = conn.execute(
                text("SELECT level, title, run_id FROM automation.notifications WHERE workflow_key = 'slow-sync'")
            )
            return [dict(r) for r in rows.mappings()]

    (notice,) = wait_for(late_notice, 300, "the deadline alert's notification", interval=3)
    assert notice == {"level": "warning", "title": "Workflow 'Slow sync' is running late",
                      "run_id": run["dag_run_id"]}  # fmt: skip
