"""The maintenance DAGs (dags/automation_maintenance.py): cron schedules from MaintenanceSettings; created
unpaused (housekeeping on from the first parse) unless [automation] maintenance_paused is true."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronTriggerTimetable

from automation.maintenance.cleanup import run_cleanup
from automation.maintenance.reports import PERIODS, Kind, run_report
from automation.maintenance.settings import MaintenanceSettings

CLEANUP_DAG_ID = "automation_maintenance_cleanup"
START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")
DEFAULT_ARGS = {"owner": "automation", "retries": 2, "retry_delay": timedelta(minutes=5)}


def _dag(dag_id: str, cron: str, settings: MaintenanceSettings, doc: str, interval: timedelta | None = None) -> DAG:
    """`interval` makes each run's data interval the period before its cron time (reports)."""
    return DAG(
        dag_id=dag_id,
        schedule=CronTriggerTimetable(cron, timezone=settings.timezone, interval=interval or timedelta()),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["automation", "maintenance"],
        default_args=DEFAULT_ARGS,
        doc_md=doc,
        is_paused_upon_creation=settings.paused,
    )


def cleanup_dag(settings: MaintenanceSettings) -> DAG:
    with _dag(
        CLEANUP_DAG_ID,
        settings.cleanup_cron,
        settings,
        "Removes Airflow runs of workflow DAGs older than each workflow's `retention_days` "
        f"(the newest {settings.keep_last_runs} of each kept), their effect records and old ledger events.",
    ) as dag:
        PythonOperator(task_id="cleanup", python_callable=run_cleanup)
    return dag


def report_dag(kind: Kind, cron: str, period: timedelta, settings: MaintenanceSettings) -> DAG:
    with _dag(
        f"automation_maintenance_{kind}_report",
        cron,
        settings,
        f"The {kind} automation report: the statistics of the run's data interval, stored in "
        "`automation.reports` and emailed to `[automation] report_emails`. A backfill writes the reports of "
        "its own periods.",
        interval=period,
    ) as dag:
        PythonOperator(task_id="report", python_callable=run_report, op_kwargs={"kind": kind})
    return dag


def maintenance_dags(settings: MaintenanceSettings | None = None) -> dict[str, DAG]:
    settings = settings or MaintenanceSettings()
    dags = [
        cleanup_dag(settings),
        report_dag("daily", settings.daily_report_cron, PERIODS["daily"], settings),
        report_dag("weekly", settings.weekly_report_cron, PERIODS["weekly"], settings),
    ]
    return {dag.dag_id: dag for dag in dags}
