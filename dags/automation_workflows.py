"""Airflow DAG file: one DAG per stored workflow definition (see automation.factory)."""

from automation.factory import build_dags

globals().update(build_dags())
