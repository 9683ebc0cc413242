"""Sessions on Airflow's metadata database for what reads or changes Airflow's runs directly.

Airflow 3 blocks its ORM inside task processes, so the maintenance tasks (cleanup, reports) reach
the metadata database through an Airflow connection, `airflow_metadata_db`, when it is defined
(`make run`, the tests and the compose stack define it; it is parsed as Airflow parses connections,
`automation.store.db`); elsewhere (the api-server, the CLI without it, `dag.test()`) Airflow's own
session on its `[database] sql_alchemy_conn` is used."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

METADATA_CONN_ID = "airflow_metadata_db"


@contextmanager
def metadata_session() -> Iterator[Any]:
    """A session that commits on success and rolls back on error, like Airflow's create_session."""
    if f"AIRFLOW_CONN_{METADATA_CONN_ID.upper()}" in os.environ:
        from sqlalchemy.orm import Session

        from automation.store.db import engine

        with Session(engine(METADATA_CONN_ID)) as session, session.begin():
            yield session
        return
    from airflow.utils.session import create_session

    with create_session() as session:
        yield session
