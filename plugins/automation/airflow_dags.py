"""Pause and unpause workflow DAGs in Airflow's metadata database (what `airflow dags pause` does).

The metadata database is found as everywhere else (`automation.airflow_db`): the connection
`airflow_metadata_db` when it is defined, else Airflow's own `[database] sql_alchemy_conn`."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def set_dag_paused(dag_id: str, paused: bool) -> bool:
    """True when the DAG exists in Airflow and now has that state; False when Airflow does not
    know it yet (its `is_paused_upon_creation` then applies when the dag-processor adds it)."""
    from airflow.models.dag import DagModel
    from sqlalchemy import update

    from automation.airflow_db import METADATA_CONN_ID, metadata_session

    if f"AIRFLOW_CONN_{METADATA_CONN_ID.upper()}" not in os.environ:
        from airflow.configuration import conf

        if conf.get("database", "sql_alchemy_conn").startswith("sqlite"):
            raise RuntimeError(
                "Airflow's metadata database is not configured here: set AIRFLOW_HOME to your Airflow's "
                "(or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, or the connection AIRFLOW_CONN_AIRFLOW_METADATA_DB)"
            )
    with metadata_session() as session:
        changed = session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused)).rowcount
    return bool(changed)
