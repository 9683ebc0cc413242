"""Sessions on Airflow's metadata database, for what reads or changes Airflow's runs directly.

Relies on: `airflow.utils.session.create_session` (Airflow's configured ORM session) and
`[database] sql_alchemy_conn`. Airflow has no public API to read its runs in bulk with SQL (the REST
API pages through runs one request at a time and cannot aggregate), so the statistics, the executions
pages, the emitter and the maintenance tasks query the tables of the installed Airflow version.

Airflow 3 blocks its ORM inside task processes, so the maintenance tasks (cleanup, reports) reach
the metadata database through an Airflow connection, `airflow_metadata_db`, when it is defined
(`make run`, the tests and the compose stack define it; it is parsed as Airflow parses connections,
`automation.store.db`); elsewhere (the api-server, the CLI without it, `dag.test()`) Airflow's own
session on its `[database] sql_alchemy_conn` is used."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

METADATA_CONN_ID = "airflow_metadata_db"


def airflow_session() -> AbstractContextManager[Any]:
    """Airflow's own session (commits on success, rolls back on error): the api-server, the emitter."""
    from airflow.utils.session import create_session

    return create_session()


def metadata_conn_defined() -> bool:
    return f"AIRFLOW_CONN_{METADATA_CONN_ID.upper()}" in os.environ


@contextmanager
def metadata_session() -> Iterator[Any]:
    """A session that commits on success and rolls back on error, like Airflow's create_session:
    through the connection `airflow_metadata_db` when it is defined, else Airflow's own."""
    if metadata_conn_defined():
        from sqlalchemy.orm import Session

        from automation.store.db import engine

        with Session(engine(METADATA_CONN_ID)) as session, session.begin():
            yield session
        return
    with airflow_session() as session:
        yield session


def require_metadata_db() -> None:
    """Raise unless this process can reach a real Airflow metadata database (not Airflow's default
    SQLite, which a process without AIRFLOW_HOME would silently create and change)."""
    if metadata_conn_defined():
        return
    from automation.airflow_adapter.config import airflow_conf

    if airflow_conf().get("database", "sql_alchemy_conn").startswith("sqlite"):
        raise RuntimeError(
            "Airflow's metadata database is not configured here: set AIRFLOW_HOME to your Airflow's "
            "(or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, or the connection AIRFLOW_CONN_AIRFLOW_METADATA_DB)"
        )
