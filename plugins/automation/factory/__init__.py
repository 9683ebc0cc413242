"""The DAG factory: every buildable workflow definition -> one Airflow DAG.

Rules (DESIGN.md section 5): never raise, one query per parse, fall back to the last-known-good
snapshot when the database is unreachable, skip (and record) what cannot be built, and on a worker
build only the DAG being run.
"""

from automation.factory.loader import build_dags

__all__ = ["build_dags"]
