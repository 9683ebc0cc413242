"""Failure streaks of workflows, for alerts: the only SQL on automation.workflow_health."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from automation.store import tables as t
from automation.store.db import UsesDatabase

Transition = Literal["alert", "recovered"]


class WorkflowHealth(UsesDatabase):
    def record_run(self, key: str, run_id: str, *, failed: bool, threshold: int) -> Transition | None:
        """Count a finished run; "alert" when this failure makes `threshold` in a row (once per
        streak), "recovered" at the first success after an alert. The same run twice counts once."""
        h = t.workflow_health
        with self.engine.begin() as conn:
            conn.execute(pg_insert(h).values(workflow_key=key).on_conflict_do_nothing())
            row = conn.execute(select(h).where(h.c.workflow_key == key).with_for_update()).one()
            if row.last_run_id == run_id:
                return None
            streak = row.failure_streak + 1 if failed else 0
            transition: Transition | None = None
            if failed and not row.alerting and streak >= threshold:
                transition = "alert"
            elif not failed and row.alerting:
                transition = "recovered"
            alerting = (row.alerting or transition == "alert") and transition != "recovered"
            conn.execute(
                h.update()
                .where(h.c.workflow_key == key)
                .values(failure_streak=streak, alerting=alerting, last_run_id=run_id, updated_at=func.now())
            )
        return transition

    def streak(self, key: str) -> tuple[int, bool]:
        """(consecutive failures, alerting) of a workflow."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.workflow_health.c.failure_streak, t.workflow_health.c.alerting).where(
                    t.workflow_health.c.workflow_key == key
                )
            ).one_or_none()
        return (row.failure_streak, row.alerting) if row else (0, False)
