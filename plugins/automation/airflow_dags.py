"""Pause and unpause workflow DAGs in Airflow's metadata database (what `airflow dags pause` does)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def set_dag_paused(dag_id: str, paused: bool) -> bool:
    """True when the DAG exists in Airflow and now has that state; False when Airflow does not
    know it yet (its `is_paused_upon_creation` then applies when the dag-processor adds it)."""
    from airflow.configuration import conf
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    if conf.get("database", "sql_alchemy_conn").startswith("sqlite"):
        raise RuntimeError("Airflow's metadata database is not configured here (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)")
    with create_session() as session:
        changed = session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused)).rowcount
    return bool(changed)
