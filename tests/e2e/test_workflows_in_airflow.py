"""End to end: definitions imported with the CLI become DAGs in a running Airflow and run there."""

from __future__ import annotations

import os
import subprocess
import sys

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
