"""What the ordering per record (`settings.ordering: per_record`) reads: the earlier ledger events of a
record that a workflow subscribes to, and what the workflow did with each so far. The only SQL of it.

Invariant: everything it reads is in the automation database (the ledger and `event_runs`), so a run's
wait survives restarts of any process: nothing is kept in memory. It writes one thing: the outcome
`not_started` of an event whose run failed before its gate claimed it (so no later run waits for it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Interval, and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from automation.store import tables as t
from automation.store.db import UsesDatabase

#: the outcomes of a run whose Airflow state says whether it is still going: in its gate or its steps, or
#: failed (a condition error, or before its gate claimed the event) and perhaps retried since
OPEN_OUTCOMES = ("running", "ran", "error", "not_started")

#: how many earlier events of a record are looked at (the most recent ones): older ones are taken as done
LOOK_BACK = 50


@dataclass(frozen=True)
class EarlierEvents:
    """The earlier events of a record a run may have to wait for."""

    #: events with no run of the workflow yet (not emitted or queued in Airflow), received within the wait
    unstarted: list[int] = field(default_factory=list)
    #: run ids of the runs of earlier events that claimed them and may still be going, by event id
    claimed: dict[int, str] = field(default_factory=dict)


class RecordOrder(UsesDatabase):
    def earlier_events(
        self,
        workflow_key: str,
        entity: str,
        entity_id: str,
        events: Sequence[str],
        before: int | None,
        wait_seconds: float,
    ) -> EarlierEvents:
        """The earlier events (ledger id below `before`; all when None: a dry run's sample event) of the
        record `entity:entity_id` of the `events` types the workflow takes, whose run of the workflow may
        still be going, or has not started while the event is younger than `wait_seconds`. An event the
        emitter noted (no workflow listened, a manual run's own) and that this workflow never claimed is
        never waited for."""
        e, r = t.events, t.event_runs
        recent = e.c.received_at > func.now() - literal(timedelta(seconds=wait_seconds), Interval())
        query = (
            select(e.c.id, r.c.run_id)
            .select_from(e.outerjoin(r, and_(r.c.event_id == e.c.id, r.c.workflow_key == workflow_key)))
            .where(
                e.c.entity == entity,
                e.c.entity_id == entity_id,
                e.c.event.in_(list(events)),
                or_(r.c.outcome.in_(OPEN_OUTCOMES), and_(r.c.run_id.is_(None), e.c.emit_note.is_(None), recent)),
            )
            .order_by(e.c.id.desc())
            .limit(LOOK_BACK)
        )
        if before is not None:
            query = query.where(e.c.id < before)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return EarlierEvents(
            unstarted=sorted(event_id for event_id, run_id in rows if run_id is None),
            claimed={event_id: run_id for event_id, run_id in sorted(rows) if run_id is not None},
        )

    def close_unclaimed(self, event_id: int, workflow_key: str, run_id: str) -> bool:
        """The run of this event ended (failed) before its gate claimed the event: record that, unless a
        run claimed it. True when recorded."""
        with self.engine.begin() as conn:
            row = conn.execute(
                pg_insert(t.event_runs)
                .values(
                    event_id=event_id,
                    workflow_key=workflow_key,
                    run_id=run_id,
                    outcome="not_started",
                    reason="the run ended before its gate decided",
                )
                .on_conflict_do_nothing()
                .returning(t.event_runs.c.event_id)
            ).first()
        return row is not None
