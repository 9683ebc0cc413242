"""End to end: an action from another installed package (entry-point group `airflow_automations.actions`)
runs in a workflow in real Airflow: the dag-processor builds its task, the worker runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from automation.store.db import engine
from tests.actions.plugin_package import installed_plugin
from tests.conftest import ENV
from tests.e2e.conftest import AirflowApi, wait_for

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]


@pytest.fixture(scope="session")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Session-scoped and asked for before `airflow`, so the Airflow processes start with it installed."""
    with installed_plugin(tmp_path_factory.mktemp("plugin")) as name:
        yield name


def cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "automation", *args], env={**os.environ, **ENV},
                            capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_workflow_using_a_plugin_action_runs_in_airflow(plugin: str, airflow: AirflowApi, tmp_path: Path) -> None:
    definition = {
        "key": "shouter",
        "name": "Shouter",
        "status": "ACTIVE",
        "trigger": {"type": "manual", "inputs": {"who": {"type": "string"}}},
        "steps": [
            {"id": "shout", "type": plugin, "config": {"text": "hello {{ params.who }}", "entity_id": 4}},
            {"id": "echo", "type": "create_record",
             "config": {"collection": "deals", "values": {"name": "{{ steps.shout.output.body }}"}}},
        ],
    }  # fmt: skip
    path = tmp_path / "shouter.json"
    path.write_text(json.dumps(definition))
    cli("import", str(path))
    wait_for(lambda: airflow.dag("automation__shouter"), 120, "the plugin workflow's DAG in Airflow")
    doc = airflow.get("/dags/automation__shouter/details")["doc_md"]
    assert "`shout`: shout: shout 'hello {{ params.who }}' on deal 4" in doc  # its own describe, on the DAG page
    run = airflow.post("/dags/automation__shouter/dagRuns", {"logical_date": None, "conf": {"who": "plugins"}})

    def finished() -> str | None:
        state = airflow.get(f"/dags/automation__shouter/dagRuns/{run['dag_run_id']}")["state"]
        return state if state in {"success", "failed"} else None

    assert wait_for(finished, 180, "the plugin workflow's run") == "success"
    with engine().connect() as conn:
        shouted = conn.execute(text("SELECT kind, body, entity_id FROM crm.activities")).mappings().all()
        echoed = conn.execute(text("SELECT name FROM crm.deals")).scalars().all()
    assert [dict(r) for r in shouted] == [{"kind": "shout", "body": "HELLO PLUGINS", "entity_id": 4}]
    assert echoed == ["HELLO PLUGINS"]
