"""`airflow_adapter.db` against the installed Airflow: its own session (`create_session`), the
`airflow_metadata_db` connection's session, and the refusal of Airflow's default SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from automation.airflow_adapter.db import METADATA_CONN_ID, airflow_session, metadata_session, require_metadata_db

pytestmark = pytest.mark.usefixtures("airflow_db")


def variable(key: str) -> str | None:
    with metadata_session() as session:
        return session.scalar(text("SELECT val FROM variable WHERE key = :key"), {"key": key})


def test_airflow_session_commits_on_success_and_rolls_back_on_error() -> None:
    kept, dropped = f"adapter-{uuid.uuid4()}", f"adapter-{uuid.uuid4()}"
    insert = text("INSERT INTO variable (key, val, is_encrypted) VALUES (:key, 'v', false)")
    with airflow_session() as session:
        session.execute(insert, {"key": kept})
    with pytest.raises(RuntimeError), airflow_session() as session:
        session.execute(insert, {"key": dropped})
        raise RuntimeError("the caller failed")
    assert variable(kept) == "v" and variable(dropped) is None


def test_metadata_session_through_the_connection_or_airflows_own(monkeypatch: pytest.MonkeyPatch) -> None:
    assert f"AIRFLOW_CONN_{METADATA_CONN_ID.upper()}" in os.environ  # the tests define it, as `make run` does
    with metadata_session() as session:
        through_connection = session.get_bind().url
    monkeypatch.delenv(f"AIRFLOW_CONN_{METADATA_CONN_ID.upper()}")
    with metadata_session() as session:
        own = session.get_bind().url
    assert (through_connection.database, own.database) == ("airflow", "airflow")
    assert through_connection.port == own.port
    require_metadata_db()  # Postgres: no error


def test_airflows_default_sqlite_database_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k != f"AIRFLOW_CONN_{METADATA_CONN_ID.upper()}" and not k.startswith("AIRFLOW__DATABASE__")}  # fmt: skip
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{tmp_path / 'airflow.db'}"
    code = "from automation.airflow_adapter.db import require_metadata_db\nrequire_metadata_db()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "metadata database is not configured here" in done.stderr
