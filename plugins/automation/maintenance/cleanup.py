"""Retention cleanup: Airflow runs of workflow DAGs older than their workflow's `retention_days`
(the last `keep_last_runs` of each DAG always kept), what the automation schema holds about them,
old ledger events nothing refers to any more, and in-app notifications and delivery log rows older than
the longest retention. Deletes in batches; returns what it removed."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from automation.airflow_adapter import runs as airflow_runs
from automation.config import DAG_ID_PREFIX, key_for_dag_id
from automation.maintenance.settings import MaintenanceSettings
from automation.store.repository import Repository
from automation.store.retention import Retention

log = logging.getLogger(__name__)
FINISHED = ("success", "failed")


class CleanupReport(BaseModel):
    cutoff_by_workflow: dict[str, str]
    runs_deleted: dict[str, int]
    rows_deleted: dict[str, int]
    events_deleted: int

    def summary(self) -> str:
        runs = sum(self.runs_deleted.values())
        rows = ", ".join(f"{n} {table}" for table, n in sorted(self.rows_deleted.items())) or "no rows"
        return f"removed {runs} Airflow runs, {rows}, {self.events_deleted} ledger events"


def retention_days(settings: MaintenanceSettings) -> dict[str, int]:
    """Retention of each stored workflow (definitions that do not validate keep the default)."""
    days = {}
    for stored in Repository().list_workflows():
        value = (stored.definition.get("settings") or {}).get("retention_days")
        days[stored.key] = int(value) if isinstance(value, int) else settings.default_retention_days
    return days


def expired_runs(now: datetime, days: dict[str, int], settings: MaintenanceSettings) -> list[tuple[int, str, str, str]]:
    """(id, dag_id, run_id, key) of finished workflow runs past retention, beyond each DAG's newest N."""
    expired = []
    for run_pk, dag_id, run_id, run_after in airflow_runs.finished_runs_beyond(
        DAG_ID_PREFIX, settings.keep_last_runs, FINISHED
    ):
        key = key_for_dag_id(dag_id) or dag_id
        if run_after < now - timedelta(days=days.get(key, settings.default_retention_days)):
            expired.append((run_pk, dag_id, run_id, key))
    return expired


def _delete_airflow_runs(run_pks: list[int]) -> None:
    """Airflow's schema cascades a run's deletion to its task instances, XComs, HITL rows, history."""
    airflow_runs.delete_runs(run_pks)


def cleanup(now: datetime, settings: MaintenanceSettings | None = None) -> CleanupReport:
    settings = settings or MaintenanceSettings()
    days = retention_days(settings)
    expired = expired_runs(now, days, settings)
    retention = Retention()
    runs_deleted: Counter[str] = Counter()
    rows_deleted: Counter[str] = Counter()
    for start in range(0, len(expired), settings.batch_size):
        batch = expired[start : start + settings.batch_size]
        # automation rows first: a crash in between leaves Airflow runs to delete next time, never orphans
        rows_deleted.update(retention.forget_runs((dag_id, run_id, key) for _, dag_id, run_id, key in batch))
        _delete_airflow_runs([run_pk for run_pk, *_ in batch])
        runs_deleted.update(dag_id for _, dag_id, _, _ in batch)
    longest = max([*days.values(), settings.default_retention_days])
    events = retention.delete_events_before(now - timedelta(days=longest), batch_size=settings.batch_size)
    rows_deleted.update(retention.delete_messages_before(now - timedelta(days=longest), batch_size=settings.batch_size))
    report = CleanupReport(
        cutoff_by_workflow={k: (now - timedelta(days=d)).isoformat() for k, d in sorted(days.items())},
        runs_deleted=dict(runs_deleted),
        rows_deleted={k: v for k, v in rows_deleted.items() if v},
        events_deleted=events,
    )
    log.info("Cleanup: %s", report.summary())
    return report


def run_cleanup(**context: Any) -> dict[str, Any]:
    """The cleanup task: "now" is when the run was due, so a backfill cleans as of its own date."""
    return cleanup(context["dag_run"].run_after).model_dump()
