"""Airflow DAG file: the automation maintenance DAGs (cleanup, reports; see automation.maintenance)."""

from automation.maintenance.dags import maintenance_dags

globals().update(maintenance_dags())
