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


def db_pool_timeout() -> float:
    """Seconds an event/webhook request waits for a pooled connection before answering 503."""
    return float(os.environ.get("AUTOMATION_DB_POOL_TIMEOUT", "5"))


def max_event_bytes() -> int:
    """Largest body of POST /api/v1/events (413 beyond)."""
    return int(os.environ.get("AUTOMATION_MAX_EVENT_BYTES", str(256 * 1024)))


def max_webhook_bytes() -> int:
    """Largest webhook delivery (413 beyond, checked before the key or the signature)."""
    return int(os.environ.get("AUTOMATION_MAX_WEBHOOK_BYTES", str(1024 * 1024)))


def max_request_bytes() -> int:
    """Largest body of every other API request (event batches, workflows, bundles...)."""
    return int(os.environ.get("AUTOMATION_MAX_REQUEST_BYTES", str(2 * 1024 * 1024)))


def max_definition_bytes() -> int:
    """Largest stored workflow definition, as compact JSON after parsing (aliases expanded)."""
    return int(os.environ.get("AUTOMATION_MAX_DEFINITION_BYTES", str(256 * 1024)))


def regex_max_work() -> int:
    """RE2 instructions x text bytes the `matches` / `regex` of one condition evaluation may cost together."""
    return int(os.environ.get("AUTOMATION_REGEX_MAX_WORK", str(100_000_000)))


def dag_id_for(key: str) -> str:
    return f"{DAG_ID_PREFIX}{key}"


def key_for_dag_id(dag_id: str) -> str | None:
    """The workflow key of one of its DAGs (`automation__<key>`, `automation__<key>__scan`)."""
    if not dag_id.startswith(DAG_ID_PREFIX):
        return None
    return dag_id[len(DAG_ID_PREFIX) :].removesuffix("__scan")


def template_max_iterations() -> int:
    """Loop iterations plus function and macro calls one template render may make."""
    return int(os.environ.get("AUTOMATION_TEMPLATE_MAX_ITERATIONS", "100000"))


def template_cpu_seconds() -> int:
    """CPU seconds a dry run's worker process may use before it is stopped."""
    return int(os.environ.get("AUTOMATION_TEMPLATE_CPU_SECONDS", "2"))


def template_memory_mb() -> int:
    """Memory (MB, above the worker's start) a dry run's worker process may add before it is stopped."""
    return int(os.environ.get("AUTOMATION_TEMPLATE_MEMORY_MB", "512"))


def template_wall_seconds() -> int:
    """Seconds (wall clock) a dry run's worker process may take, waiting on the database included."""
    return int(os.environ.get("AUTOMATION_TEMPLATE_WALL_SECONDS", "20"))


def records_filter_timeout_ms() -> int:
    """Milliseconds one record-filter query (select/update/delete by filter) may run in Postgres."""
    return int(os.environ.get("AUTOMATION_RECORDS_FILTER_TIMEOUT_MS", "10000"))
