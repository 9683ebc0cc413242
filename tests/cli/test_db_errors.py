"""Every CLI command that needs the automation database says what is wrong with it in one line
(exit 2, no traceback): an unmigrated database, or one that cannot be reached."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from automation.cli.main import DATABASE_NEEDS, main
from automation.config import dag_id_for
from automation.local.embedded_db import free_port
from automation.local.run import cli_environment
from automation.local.stack import bin_path
from tests.conftest import PG, ROOT
from tests.helpers import workflow


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    (tmp_path / "wf.yaml").write_text(yaml.safe_dump(workflow("cli_db")))
    return {
        "import": ["import", str(tmp_path / "wf.yaml"), "--activate"],
        "export": ["export"],
        "list": ["list", "--errors"],
        "activate": ["activate", "cli_db"],
        "deactivate": ["deactivate", "cli_db"],
        "dry-run": ["dry-run", "cli_db"],
        "emit": ["emit", "contact", "created", "--id", "1"],
        "migrate": ["migrate"],
        "demo-setup": ["demo-setup"],
    }


def test_every_database_command_is_covered(tmp_path: Path) -> None:
    assert set(_commands(tmp_path)) == set(DATABASE_NEEDS)


def test_unmigrated_database_says_run_migrate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    PG.create_database("cli_unmigrated")
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", PG.url("cli_unmigrated"))
    for name, argv in _commands(tmp_path).items():
        if DATABASE_NEEDS[name] != "tables":
            continue
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert err == (
            f"error: the automation database at 127.0.0.1:{PG.port}/cli_unmigrated has no tables: "
            "run `automation migrate`\n"
        ), name


def test_unreachable_database_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", f"postgresql://postgres:secret-pw@127.0.0.1:{port}/automation")
    for name, argv in _commands(tmp_path).items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot reach the automation database at 127.0.0.1:{port}/automation: "), name
        assert "Connection refused" in err and err.count("\n") == 1 and "secret-pw" not in err, name


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    PG.create_database("cli_unmigrated")
    env = {**os.environ, "AIRFLOW_CONN_AUTOMATION_DB": PG.url("cli_unmigrated")}
    done = subprocess.run([bin_path("automation"), "list"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "run `automation migrate`" in done.stderr


def _activate_with(tmp_path: Path, key: str, assignments: str) -> None:
    """`automation import --activate` run by a shell with only `assignments` (nothing else of
    Airflow's configuration): the workflow's DAG, paused in Airflow's database, ends unpaused."""
    from airflow.models.dag import DagModel
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    dag_id = dag_id_for(key)
    airflow = create_engine(PG.url("airflow").replace("postgresql://", "postgresql+psycopg2://"))
    with airflow.begin() as conn:
        conn.execute(
            text("INSERT INTO dag_bundle (name, active) VALUES ('cli-line-test', true) ON CONFLICT DO NOTHING")
        )
        conn.execute(text("DELETE FROM dag WHERE dag_id = :d"), {"d": dag_id})
    with Session(airflow) as session, session.begin():
        session.add(DagModel(dag_id=dag_id, bundle_name="cli-line-test", is_paused=True, is_stale=False,
                             max_active_tasks=16, max_active_runs=16, max_consecutive_failed_dag_runs=0,
                             has_task_concurrency_limits=False))  # fmt: skip
    (tmp_path / "wf.yaml").write_text(json.dumps(workflow(key)))
    home = tmp_path / "home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT / "plugins"))
    line = f"{assignments} {shlex.quote(bin_path('automation'))} import {tmp_path / 'wf.yaml'} --activate"
    try:
        done = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"created {key} v1 ACTIVE (DAG unpaused)" in done.stdout
        with airflow.connect() as conn:
            assert conn.execute(text("SELECT is_paused FROM dag WHERE dag_id = :d"), {"d": dag_id}).scalar() is False
    finally:
        with airflow.begin() as conn:
            conn.execute(text("DELETE FROM dag WHERE dag_id = :d"), {"d": dag_id})
        airflow.dispose()


@pytest.mark.usefixtures("db", "airflow_db")
def test_make_run_cli_line_is_enough_to_activate(tmp_path: Path) -> None:
    """`make run` prints the environment for the CLI: exactly that is enough."""
    _activate_with(tmp_path, "cli_line", cli_environment(PG))


@pytest.mark.usefixtures("db", "airflow_db")
def test_activate_finds_airflows_database_in_airflows_own_configuration(tmp_path: Path) -> None:
    """No `airflow_metadata_db` connection: Airflow's `[database] sql_alchemy_conn` is used."""
    airflow_url = PG.url("airflow").replace("postgresql://", "postgresql+psycopg2://")
    _activate_with(
        tmp_path,
        "cli_conf",
        f"AIRFLOW_CONN_AUTOMATION_DB={shlex.quote(PG.url('automation'))} "
        f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={shlex.quote(airflow_url)}",
    )
