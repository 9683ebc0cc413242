"""Settings read from the environment, in one place, with their defaults."""

from __future__ import annotations

import os
from pathlib import Path

DB_CONN_ID = "automation_db"
DAG_ID_PREFIX = "automation__"

#: The project checkout (plugins/automation/config.py -> repo root); include/ lives there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def state_dir() -> Path:
    """Local directory for the factory's last-known-good snapshot and error file."""
    explicit = os.environ.get("AUTOMATION_STATE_DIR")
    if explicit:
        return Path(explicit)
    airflow_home = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
    return Path(airflow_home) / "automation"


def include_dir() -> Path:
    return Path(os.environ.get("AUTOMATION_INCLUDE_DIR", str(PROJECT_ROOT / "include")))


def db_connect_timeout() -> int:
    """Seconds before a connection attempt to the definitions DB gives up (never a hang)."""
    return int(os.environ.get("AUTOMATION_DB_CONNECT_TIMEOUT", "3"))


def dag_id_for(key: str) -> str:
    return f"{DAG_ID_PREFIX}{key}"


def key_for_dag_id(dag_id: str) -> str | None:
    """The workflow key of one of its DAGs (`automation__<key>`, `automation__<key>__scan`)."""
    if not dag_id.startswith(DAG_ID_PREFIX):
        return None
    return dag_id[len(DAG_ID_PREFIX) :].removesuffix("__scan")
