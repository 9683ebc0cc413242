"""Retention: forget what the automation schema holds about Airflow runs that were deleted, old ledger
events no remaining run refers to, and old messages (in-app notifications and the delivery log). The only
SQL of the cleanup job."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, delete, exists, select, tuple_

from automation.store import tables as t
from automation.store.db import UsesDatabase

#: Tables whose rows belong to one Airflow run, keyed by (dag_id, run_id).
RUN_TABLES = (t.run_versions, t.effects, t.step_failures, t.step_notices)
#: Tables of messages, kept by age (`created_at`): a notification or delivery may belong to no run.
MESSAGE_TABLES = (t.notifications, t.notification_deliveries)


class Retention(UsesDatabase):
    def forget_runs(self, runs: Iterable[tuple[str, str, str]]) -> dict[str, int]:
        """Delete the rows of these (dag_id, run_id, workflow_key) runs; counts per table."""
        runs = list(runs)
        if not runs:
            return {}
        pairs = [(dag_id, run_id) for dag_id, run_id, _ in runs]
        counts: dict[str, int] = {}
        with self.engine.begin() as conn:
            for table in RUN_TABLES:
                counts[table.name] = conn.execute(
                    delete(table).where(tuple_(table.c.dag_id, table.c.run_id).in_(pairs))
                ).rowcount
            claims = [(key, run_id) for _, run_id, key in runs]
            counts[t.event_runs.name] = conn.execute(
                delete(t.event_runs).where(tuple_(t.event_runs.c.workflow_key, t.event_runs.c.run_id).in_(claims))
            ).rowcount
        return counts

    def delete_events_before(self, cutoff: datetime, *, batch_size: int) -> int:
        """Emitted ledger events received before `cutoff` that no remaining run claimed, in batches."""
        unclaimed = ~exists().where(t.event_runs.c.event_id == t.events.c.id)
        total = 0
        while True:
            batch = (
                select(t.events.c.id)
                .where(and_(t.events.c.received_at < cutoff, t.events.c.emitted_at.is_not(None), unclaimed))
                .limit(batch_size)
                .scalar_subquery()
            )
            with self.engine.begin() as conn:
                deleted = conn.execute(delete(t.events).where(t.events.c.id.in_(batch))).rowcount
            total += deleted
            if deleted < batch_size:
                return total

    def delete_messages_before(self, cutoff: datetime, *, batch_size: int) -> dict[str, int]:
        """In-app notifications (read or not) and delivery log rows (whatever their status) created before
        `cutoff`, oldest first in batches; counts per table."""
        counts = {}
        for table in MESSAGE_TABLES:
            total = 0
            while True:
                batch = (
                    select(table.c.id)
                    .where(table.c.created_at < cutoff)
                    .order_by(table.c.id)
                    .limit(batch_size)
                    .scalar_subquery()
                )
                with self.engine.begin() as conn:
                    deleted = conn.execute(delete(table).where(table.c.id.in_(batch))).rowcount
                total += deleted
                if deleted < batch_size:
                    break
            counts[table.name] = total
        return counts
