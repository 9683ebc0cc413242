"""End to end: definitions imported with the CLI become DAGs in a running Airflow and run there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from automation.demo import DEMO_WORKFLOWS
from automation.store.db import engine
from tests.conftest import ENV
from tests.e2e.conftest import AirflowApi, wait_for

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "automation", *args],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_imported_workflows_appear_run_and_follow_edits(airflow: AirflowApi, tmp_path) -> None:
    cli("import", str(DEMO_WORKFLOWS))
    dag_ids = {"automation__create-deal", "automation__deal-signed", "automation__new-deal-task",
               "automation__weekly-pipeline-note"}  # fmt: skip

    def listed() -> set[str]:
        return {d["dag_id"] for d in airflow.get("/dags", tags="automation", limit=100)["dags"]} & dag_ids

    wait_for(lambda: listed() == dag_ids, 120, "the demo DAGs in Airflow")
    dag = airflow.dag("automation__create-deal")
    assert dag["is_paused"] is False and dag["dag_display_name"] == "Create a deal (manual)"
    assert {t["name"] for t in dag["tags"]} == {"automation", "manual", "crm", "demo"}
    details = airflow.get("/dags/automation__create-deal/details")
    assert set(details["params"]) == {"name", "amount"}

    run = airflow.post(
        "/dags/automation__create-deal/dagRuns",
        {"logical_date": None, "conf": {"name": "E2E deal", "amount": 5}},
    )

    def finished() -> str | None:
        state = airflow.get(f"/dags/automation__create-deal/dagRuns/{run['dag_run_id']}")["state"]
        return state if state in {"success", "failed"} else None

    assert wait_for(finished, 180, "the manual run to finish") == "success"
    with engine().connect() as conn:
        deal = conn.execute(text("SELECT name, amount, stage FROM crm.deals")).mappings().one()
    assert dict(deal) == {"name": "E2E deal", "amount": 5, "stage": "PROPOSITION"}

    # an edit made with the CLI shows in the UI within 30 seconds
    exported = cli("export", "--key", "create-deal").replace("Create a deal (manual)", "Create a deal (edited)")
    (tmp_path / "edited.yaml").write_text(exported)
    assert "updated create-deal v2" in cli("import", str(tmp_path / "edited.yaml"))
    wait_for(lambda: airflow.dag("automation__create-deal")["dag_display_name"] == "Create a deal (edited)", 30,
             "the edit to show in Airflow", interval=0.5)  # fmt: skip

    # deactivating pauses the DAG through Airflow, activating unpauses it
    assert "DAG paused" in cli("deactivate", "create-deal")
    assert airflow.dag("automation__create-deal")["is_paused"] is True
    assert "DAG unpaused" in cli("activate", "create-deal")
    assert airflow.dag("automation__create-deal")["is_paused"] is False


PARENT = {
    "key": "release",
    "name": "Release with approval",
    "status": "ACTIVE",
    "trigger": {"type": "manual", "inputs": {"env": {"type": "string", "enum": ["staging", "production"]}}},
    "steps": [
        {"id": "approve", "type": "approval", "config": {"subject": "Deploy to {{ params.env }}?", "timeout": "1h"}},
        {"id": "pause", "type": "wait", "config": {"delay": "2s"}},
        {
            "id": "child",
            "type": "trigger_workflow",
            "config": {
                "workflow": "release-child",
                "wait": True,
                "poll_interval": 2,
                "conf": {"env": "{{ params.env }}"},
            },
        },
        {
            "id": "log",
            "type": "create_record",
            "config": {
                "collection": "deals",
                "values": {
                    "name": "{{ steps.approve.output.chosen_options[0] }} by {{ steps.approve.output.responded_by_user.name }}"
                },
            },
        },
    ],
}
CHILD = {
    "key": "release-child",
    "name": "Release child",
    "status": "ACTIVE",
    "trigger": {"type": "manual", "inputs": {"env": {"type": "string"}}},
    "steps": [
        {
            "id": "mark",
            "type": "create_record",
            "config": {"collection": "deals", "values": {"name": "child ran for {{ params.env }}"}},
        }
    ],
}


def test_approval_answered_through_the_rest_api_continues_the_run(airflow: AirflowApi, tmp_path) -> None:
    (tmp_path / "release.yaml").write_text(json.dumps([PARENT, CHILD]))
    cli("import", str(tmp_path / "release.yaml"))
    wait_for(lambda: airflow.dag("automation__release") and airflow.dag("automation__release-child"), 60,
             "the release DAGs")  # fmt: skip
    run = airflow.post("/dags/automation__release/dagRuns", {"logical_date": None, "conf": {"env": "production"}})
    hitl = f"/api/v2/dags/automation__release/dagRuns/{run['dag_run_id']}/taskInstances/approve/-1/hitlDetails"

    def waiting_for_answer() -> dict | None:
        response = airflow.client.get(hitl)
        return response.json() if response.status_code == 200 else None

    detail = wait_for(waiting_for_answer, 90, "the approval request")
    task = f"/dags/automation__release/dagRuns/{run['dag_run_id']}/taskInstances/approve"
    wait_for(lambda: airflow.get(task)["state"] == "awaiting_input", 60, "the approval task to wait for input")
    # A person answers after seconds. An answer sent before the scheduler has handled the parked
    # attempt's exit (about a second) is lost by Airflow 3.3.2: the attempt is marked for retry and
    # the retry asks again (seen in the scheduler log: "finished with state success, but the task
    # instance's state attribute is queued"). So answer as a person would, a few seconds later.
    parked = time.monotonic()
    # meanwhile the execution API says the step awaits an answer, since when, and where to give it
    execution = airflow.client.get(f"/automation/api/v1/workflows/release/executions/{run['dag_run_id']}")
    assert execution.status_code == 200, execution.text
    approve = next(s for s in execution.json()["steps"] if s["step_id"] == "approve")
    waiting = approve["waiting"]
    assert waiting["kind"] == "awaiting_approval" and waiting["since"] and waiting["until"], approve  # 1h timeout
    assert waiting["answer_url"].endswith("/tasks/approve/required_actions") and waiting["assignees"] is None
    time.sleep(max(0.0, 5 - (time.monotonic() - parked)))
    assert detail["subject"] == "Deploy to production?" and detail["options"] == ["Approve", "Reject"]
    answer = airflow.client.patch(hitl, json={"chosen_options": ["Approve"]})
    assert answer.status_code == 200, answer.text
    answered_try = airflow.get(task)["try_number"]

    def finished() -> str | None:
        nonlocal answered_try
        state = airflow.get(f"/dags/automation__release/dagRuns/{run['dag_run_id']}")["state"]
        approve = airflow.get(task)
        if approve["state"] == "awaiting_input" and approve["try_number"] > answered_try:
            # the race above hit anyway (a loaded machine handles the parked attempt's exit later than
            # usual): the retry asks again, and the person answers again, as they would in the UI
            time.sleep(5)
            airflow.client.patch(hitl, json={"chosen_options": ["Approve"]}).raise_for_status()
            answered_try = approve["try_number"]
        return state if state in {"success", "failed"} else None

    assert wait_for(finished, 180, "the release run to finish") == "success"
    with engine().connect() as conn:
        names = sorted(conn.execute(text("SELECT name FROM crm.deals")).scalars())
    assert names == ["Approve by admin", "child ran for production"]
    child_runs = airflow.get("/dags/automation__release-child/dagRuns")["dag_runs"]
    assert [r["dag_run_id"] for r in child_runs] == [f"triggered__{run['dag_run_id']}__child"]
