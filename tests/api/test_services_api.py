"""The API over the services layer, in-process (Starlette's TestClient over `create_app()`) on the
session's real Postgres with a real Airflow JWT: the DAG's pause state follows every save that
changes the status (activate, deactivate, update, rollback, bundle import), and the dry run's
`at` and `mocks` are checked with their field paths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from automation.config import dag_id_for
from tests.conftest import PG
from tests.helpers import admin_api, workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")
WF = "/api/v1/workflows"
BUNDLES = "/api/v1/bundles"


@pytest.fixture
def api() -> Iterator[TestClient]:
    with admin_api() as client:
        yield client


@pytest.fixture
def airflow_dag() -> Iterator[tuple[str, object]]:
    """A DAG row for the workflow `synced`, paused, in Airflow's metadata database (as the
    dag-processor leaves it); `paused()` reads its state."""
    from airflow.models.dag import DagModel
    from sqlalchemy.orm import Session

    dag_id = dag_id_for("synced")
    airflow = create_engine(PG.url("airflow").replace("postgresql://", "postgresql+psycopg2://"))
    with airflow.begin() as conn:
        conn.execute(
            text("INSERT INTO dag_bundle (name, active) VALUES ('services-test', true) ON CONFLICT DO NOTHING")
        )
        conn.execute(text("DELETE FROM dag WHERE dag_id = :d"), {"d": dag_id})
    with Session(airflow) as session, session.begin():
        session.add(DagModel(dag_id=dag_id, bundle_name="services-test", is_paused=True, is_stale=False,
                             max_active_tasks=16, max_active_runs=16, max_consecutive_failed_dag_runs=0,
                             has_task_concurrency_limits=False))  # fmt: skip

    def paused() -> bool:
        with airflow.connect() as conn:
            return bool(conn.execute(text("SELECT is_paused FROM dag WHERE dag_id = :d"), {"d": dag_id}).scalar())

    try:
        yield "synced", paused
    finally:
        with airflow.begin() as conn:
            conn.execute(text("DELETE FROM dag WHERE dag_id = :d"), {"d": dag_id})
        airflow.dispose()


def test_every_status_change_pauses_or_unpauses_the_dag(api: TestClient, airflow_dag: tuple) -> None:
    key, paused = airflow_dag
    assert api.post(WF, json=workflow(key, status="INACTIVE")).status_code == 201
    assert paused()
    assert api.post(f"{WF}/{key}/activate").json()["status"] == "ACTIVE" and not paused()
    assert api.post(f"{WF}/{key}/deactivate").json()["status"] == "INACTIVE" and paused()
    updated = api.put(f"{WF}/{key}", json=workflow(key, status="ACTIVE", name="Renamed"))
    assert (updated.status_code, updated.json()["version"]) == (200, 2) and not paused()
    assert api.post(f"{WF}/{key}/deactivate").status_code == 200 and paused()
    rolled = api.post(f"{WF}/{key}/rollback", json={"version": 1})
    assert rolled.json()["status"] == "INACTIVE" and rolled.json()["version"] == 3 and paused()
    imported = api.post(f"{BUNDLES}/import", params={"activate": True}, json={"workflows": [workflow(key)]})
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"][0]["status"] == "ACTIVE" and not paused()
    assert api.post(f"{WF}/nope/activate").json() == {"detail": "workflow 'nope' does not exist"}


def test_dry_run_at_and_mocks_are_checked_with_their_paths(api: TestClient) -> None:
    assert api.post(WF, json=workflow("dry")).status_code == 201
    ok = api.post(f"{WF}/dry/dry-run", json={"params": {"name": "Dry deal"}})
    assert ok.status_code == 200, ok.text
    assert [s["status"] for s in ok.json()["steps"]] == ["would_run", "would_run"]

    bad_time = api.post(f"{WF}/dry/dry-run", json={"params": {"name": "x"}, "at": "next tuesday"})
    assert bad_time.status_code == 422 and [e["path"] for e in bad_time.json()["errors"]] == ["at"]

    unknown = api.post(f"{WF}/dry/dry-run", json={"params": {"name": "x"}, "mocks": {"nope": {"id": 1}}})
    assert unknown.status_code == 422
    assert unknown.json() == {
        "detail": "invalid request",
        "errors": [{"path": "mocks.nope", "message": "the workflow has no step 'nope'; its steps: create_deal, "
                    "to_proposition"}],
    }  # fmt: skip
    assert api.post(f"{WF}/dry/dry-run", json={"mocks": ["create_deal"]}).status_code == 422
    assert api.post(f"{WF}/nope/dry-run", json={}).status_code == 404


def test_dry_run_at_and_mocks_reach_the_run(api: TestClient) -> None:
    steps = [
        {"id": "hook", "type": "http_request", "config": {"url": "http://127.0.0.1:1/x"}},
        {"id": "deal", "type": "create_record", "config": {"collection": "deals", "values": {
            "name": "{{ steps.hook.output.body.name }} {{ run.logical_date }}"}}},
    ]  # fmt: skip
    weekly = workflow("weekly", trigger={"type": "schedule", "cron": "0 7 * * 1"}, steps=steps)
    assert api.post(WF, json=weekly).status_code == 201
    body = {"at": "2026-03-02T07:00:00", "mocks": {"hook": {"status": 200, "body": {"name": "ACME"}}}}
    report = api.post(f"{WF}/weekly/dry-run", json=body)
    assert report.status_code == 200, report.text
    assert list(report.json())[:2] == ["would_run", "reason"] and report.json()["would_run"] is True
    assert report.json()["run"]["logical_date"] == "2026-03-02T07:00:00+00:00"
    assert report.json()["steps"][1]["output"]["name"] == "ACME 2026-03-02T07:00:00+00:00"
