"""Parse only what changed, in a real Airflow 3.3 (api-server and dag-processor) whose periodic parse is every
10 minutes: 60 workflows over 4 workflow DAG files written by `automation init`, each DAG built by the file of
its shard; an edit through the API and through the CLI, a new workflow and a deletion show within seconds
(the save asks Airflow to re-parse the one file holding the workflow); the shard count changed to 8 with a
dag-processor restart keeps every DAG active throughout; the definitions database stopped, a re-parse of
every file still yields every DAG, from each shard's snapshot.

Its own stack (own Airflow and automation databases, own dags folder, an own Postgres for the definitions so
that it can be stopped): `airflow_e2e` without the shared stack's fixture, in the `postgres` worker group.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from automation.factory.shards import shard_file_name, shard_of
from automation.local.embedded_db import EmbeddedPostgres, free_port
from automation.local.stack import AirflowProcesses, airflow_env, prepare
from tests.e2e.conftest import AirflowApi, wait_for
from tests.helpers import workflow

pytestmark = pytest.mark.airflow_e2e

KEYS = [f"sharded-{i:02d}" for i in range(60)]
PARSE_INTERVAL = 600  # the safety net only: nothing below may wait for it
#: "within seconds": far below the parse interval; generous for a loaded 2-core machine
VISIBLE_WITHIN = 60


def _dag_rows(airflow_db: Engine) -> dict[str, dict[str, Any]]:
    """The workflow DAGs Airflow has: dag_id -> its file, stale flag and last parse."""
    with airflow_db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT dag_id, relative_fileloc, is_stale, last_parsed_time FROM dag "
                "WHERE dag_id LIKE 'automation\\_\\_%'"
            )
        ).mappings()
        return {row["dag_id"]: dict(row) for row in rows}


def _active(rows: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {dag_id: row["relative_fileloc"] for dag_id, row in rows.items() if not row["is_stale"]}


def _expected(keys: list[str], count: int) -> dict[str, str]:
    return {f"automation__{key}": shard_file_name(shard_of(key, count)) for key in keys}


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "automation", *args], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def definitions_pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    own = EmbeddedPostgres(tmp_path / "definitions-pg", free_port()).start()
    try:
        own.create_database("automation")
        yield own
    finally:
        own.stop()


def test_edits_show_in_seconds_and_every_dag_stays_in_one_shard_file(
    pg: EmbeddedPostgres, definitions_pg: EmbeddedPostgres, tmp_path: Path
) -> None:
    pg.create_database("sharded_airflow")
    dags = tmp_path / "dags"
    dags.mkdir()
    env = airflow_env(
        tmp_path / "airflow", pg, api_port=free_port(), airflow_db="sharded_airflow", parse_interval=PARSE_INTERVAL,
        extra={
            "AIRFLOW_CONN_AUTOMATION_DB": definitions_pg.url("automation"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__AUTOMATION__DAG_SHARDS": "4",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        },
    )  # fmt: skip
    airflow_db = create_engine(pg.url("sharded_airflow"))
    stacks: list[AirflowProcesses] = []
    try:
        prepare(env, import_demo=False)
        init = _cli(env, "init", "--dags-folder", str(dags))
        assert sorted(p.name for p in dags.glob("automation_workflows*.py")) == sorted(
            shard_file_name(i) for i in range(4)
        ), init
        (tmp_path / "workflows.json").write_text(json.dumps([workflow(key) for key in KEYS]))
        _cli(env, "import", str(tmp_path / "workflows.json"))

        api_server = AirflowProcesses(env, tmp_path / "logs").start(("api-server",))
        processor = AirflowProcesses(env, tmp_path / "logs").start(("dag-processor",))
        stacks += [api_server, processor]
        base = env["AIRFLOW__API__BASE_URL"]
        wait_for(lambda: _healthy(base, stacks), 180, "the api-server")
        airflow = AirflowApi(base)

        # 60 workflows over 4 files: each DAG once, from the file of its shard
        wait_for(lambda: _active(_dag_rows(airflow_db)) == _expected(KEYS, 4), 180, "60 DAGs from 4 files")
        listed = airflow.get("/dags", dag_id_pattern="automation__sharded", limit=100)["dags"]
        assert sorted(d["dag_id"] for d in listed) == sorted(_expected(KEYS, 4))

        # an edit through the API shows within seconds (the file holding it is re-parsed at once)
        edited = {**workflow(KEYS[3]), "name": "Renamed through the API"}
        started = time.monotonic()
        response = airflow.client.put(f"/automation/api/v1/workflows/{KEYS[3]}", json=edited)
        assert response.status_code == 200, response.text
        _wait_description(airflow, KEYS[3], "Renamed through the API")
        api_seconds = time.monotonic() - started

        # ... and through the CLI (a process of its own, reaching Airflow's database through its connection)
        (tmp_path / "edit.json").write_text(json.dumps({**workflow(KEYS[4]), "name": "Renamed through the CLI"}))
        started = time.monotonic()
        _cli(env, "import", str(tmp_path / "edit.json"))
        _wait_description(airflow, KEYS[4], "Renamed through the CLI")
        cli_seconds = time.monotonic() - started
        print(f"edit -> visible: API {api_seconds:.1f}s, CLI {cli_seconds:.1f}s (parse interval {PARSE_INTERVAL}s)")

        # a new workflow appears, a deleted one disappears, both within seconds
        created = airflow.client.post("/automation/api/v1/workflows", json=workflow("sharded-new"))
        assert created.status_code == 201, created.text
        wait_for(lambda: airflow.dag("automation__sharded-new"), VISIBLE_WITHIN, "the new workflow's DAG")
        assert airflow.client.delete(f"/automation/api/v1/workflows/{KEYS[0]}").status_code == 204
        keys = [*KEYS[1:], "sharded-new"]
        wait_for(lambda: _active(_dag_rows(airflow_db)) == _expected(keys, 4), VISIBLE_WITHIN, "the deletion")
        assert KEYS[0] not in {d["dag_id"] for d in airflow.get("/dags", dag_id_pattern="sharded", limit=100)["dags"]}

        # 4 -> 8 files: `automation init` writes files 4-7 (they build nothing under 4), then the count is
        # set and the dag-processor started again: every DAG stays active while it moves to its new file
        env["AIRFLOW__AUTOMATION__DAG_SHARDS"] = "8"
        assert "written" in _cli(env, "init", "--dags-folder", str(dags))
        processor.stop()
        stacks.remove(processor)
        processor = AirflowProcesses(env, tmp_path / "logs-8").start(("dag-processor",))
        stacks.append(processor)
        vanished: list[set[str]] = []

        def moved() -> bool:
            active = _active(_dag_rows(airflow_db))
            if set(active) != set(_expected(keys, 8)):
                vanished.append(set(_expected(keys, 8)) - set(active))
            return active == _expected(keys, 8)

        wait_for(moved, 180, "every DAG in its file of 8", interval=0.2)
        assert vanished == [], f"DAGs not active during the change: {vanished[:3]}"

        # the definitions database stopped: a re-parse of every file still yields every DAG (its snapshot)
        definitions_pg.stop()
        before = _dag_rows(airflow_db)
        with airflow_db.begin() as conn:
            for name in {shard_file_name(i) for i in range(8)}:
                conn.execute(
                    text(
                        "INSERT INTO dag_priority_parsing_request (id, bundle_name, relative_fileloc) "
                        "VALUES (md5('dags-folder:' || :name), 'dags-folder', :name) ON CONFLICT DO NOTHING"
                    ),
                    {"name": name},
                )

        def reparsed() -> bool:
            rows = _dag_rows(airflow_db)
            return all(rows[d]["last_parsed_time"] > before[d]["last_parsed_time"] for d in _expected(keys, 8))

        wait_for(reparsed, VISIBLE_WITHIN, "every DAG parsed again with the definitions database down")
        assert _active(_dag_rows(airflow_db)) == _expected(keys, 8)
    finally:
        for stack in stacks:
            stack.stop()
        airflow_db.dispose()


def _healthy(base: str, stacks: list[AirflowProcesses]) -> bool:
    dead = [(s, name) for s in stacks for name in s.dead()]
    assert not dead, f"{dead[0][1]} died:\n{dead[0][0].log_tail(dead[0][1])}"
    try:
        return httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_description(airflow: AirflowApi, key: str, description: str) -> None:
    wait_for(
        lambda: (airflow.dag(f"automation__{key}") or {}).get("description") == description,
        VISIBLE_WITHIN,
        f"the edit of {key} in Airflow",
    )
