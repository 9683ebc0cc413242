"""Pause and unpause workflow DAGs in Airflow's metadata database (what `airflow dags pause` does).

Relies on: the ORM model `airflow.models.dag.DagModel` (`dag_id`, `is_paused`). The public
alternatives need what the callers may not have: `PATCH /api/v2/dags/{dag_id}` needs a running
api-server and a token (the CLI saves workflows without either), and `airflow dags pause` is a
process of its own per DAG (seconds each). The metadata database is found as everywhere else
(`airflow_adapter.db`): the connection `airflow_metadata_db` when it is defined, else Airflow's own
`[database] sql_alchemy_conn`."""

from __future__ import annotations

from automation.airflow_adapter.db import metadata_session, require_metadata_db


def set_dag_paused(dag_id: str, paused: bool) -> bool:
    """True when the DAG exists in Airflow and now has that state; False when Airflow does not
    know it yet (its `is_paused_upon_creation` then applies when the dag-processor adds it)."""
    from airflow.models.dag import DagModel
    from sqlalchemy import update

    require_metadata_db()
    with metadata_session() as session:
        changed = session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused)).rowcount
    return bool(changed)


def dag_paused(dag_id: str) -> bool | None:
    """The DAG's pause state in Airflow; None when Airflow does not know the DAG."""
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    with metadata_session() as session:
        return session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id))
