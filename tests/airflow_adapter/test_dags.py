"""`airflow_adapter.dags` against the installed Airflow: the pause state in `DagModel`."""

from __future__ import annotations

from typing import Any

from automation.airflow_adapter.dags import dag_paused, set_dag_paused
from tests.airflow_adapter.conftest import PROBE_DAG_ID


def test_pause_and_unpause_a_dag_airflow_knows(probe_dag: Any) -> None:
    assert set_dag_paused(PROBE_DAG_ID, True) is True
    assert dag_paused(PROBE_DAG_ID) is True
    assert set_dag_paused(PROBE_DAG_ID, False) is True
    assert dag_paused(PROBE_DAG_ID) is False


def test_a_dag_airflow_does_not_know_is_left_to_is_paused_upon_creation(airflow_db: None) -> None:
    assert set_dag_paused("adapter_no_such_dag", True) is False
    assert dag_paused("adapter_no_such_dag") is None
