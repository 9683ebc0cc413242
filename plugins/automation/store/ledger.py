"""The event ledger and what each workflow did with each event. The only SQL on those tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Interval, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from automation.store import tables as t
from automation.store.db import UsesDatabase

EVENT_COLUMNS = ("idempotency_key", "entity", "entity_id", "event", "old_data", "new_data", "actor",
                 "origin_workflow", "depth", "source")  # fmt: skip


def _ago(seconds: float) -> Any:
    return func.now() - literal(timedelta(seconds=seconds), Interval())


#: Values of the NOT NULL columns the database would fill in for a row that leaves them out.
_SERVER_DEFAULTS = {"depth": 0, "source": "outbox"}

_INSERT = (
    pg_insert(t.events)
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(t.events.c.id, t.events.c.idempotency_key)
)


_STORE_MANY = text(
    f"INSERT INTO automation.events ({', '.join(EVENT_COLUMNS)}) SELECT {', '.join(EVENT_COLUMNS)} "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(idempotency_key varchar, entity varchar, "
    "entity_id varchar, event varchar, old_data jsonb, new_data jsonb, actor varchar, origin_workflow varchar, "
    "depth integer, source varchar) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)


def event_payload(row: Any) -> dict[str, Any]:
    """An event as steps see it (`trigger.*`)."""
    return {
        "event_id": row["id"],
        "entity": row["entity"],
        "id": row["entity_id"],
        "event": row["event"],
        "new": row["new_data"] or {},
        "old": row["old_data"] or {},
        "actor": row["actor"],
        "origin": row["origin_workflow"],
        "depth": row["depth"],
        "received_at": row["received_at"].isoformat() if isinstance(row["received_at"], datetime) else None,
    }


class EventLedger(UsesDatabase):
    @staticmethod
    def append_on(conn: Connection, events: list[dict[str, Any]]) -> list[tuple[int, bool]]:
        """Store events (in the caller's transaction); returns (id, created) in input order. A repeated
        idempotency key returns the first event's id and stores nothing."""
        if not events:
            return []
        rows = [{k: e.get(k) for k in EVENT_COLUMNS if e.get(k) is not None} for e in events]
        if len(rows) > 1:  # a multi-row VALUES needs the same columns in every row
            columns = set().union(*rows)
            rows = [{k: row.get(k, _SERVER_DEFAULTS.get(k)) for k in columns} for row in rows]
        # one row: parameters of the constant statement (compiled once); a batch: one multi-row VALUES
        statement = conn.execute(_INSERT, rows[0]) if len(rows) == 1 else conn.execute(_INSERT.values(rows))
        created = {r.idempotency_key: r.id for r in statement}
        missing = [e["idempotency_key"] for e in events if e["idempotency_key"] not in created]
        existing = EventLedger.ids_on(conn, missing)
        result, seen = [], set()
        for event in events:
            key = event["idempotency_key"]
            if key in created and key not in seen:
                result.append((created[key], True))
                seen.add(key)
            else:
                result.append((created.get(key) or existing[key], False))
        return result

    @staticmethod
    def ids_on(conn: Connection, keys: list[str]) -> dict[str, int]:
        """The ids of the stored events among these idempotency keys (a key not stored is left out)."""
        if not keys:
            return {}
        query = select(t.events.c.idempotency_key, t.events.c.id).where(t.events.c.idempotency_key.in_(keys))
        return {key: event_id for key, event_id in conn.execute(query).all()}

    def ids(self, keys: list[str]) -> dict[str, int]:
        """`ids_on` in a read-only look-up of its own (what a dry run asks: which events exist)."""
        with self.engine.connect() as conn:
            return self.ids_on(conn, keys)

    def append(self, events: list[dict[str, Any]]) -> list[tuple[int, bool]]:
        """Retried once on a dead connection (the pool reconnects): keys are fixed, so a retry stores
        nothing twice; an insert that committed before the connection died reads `created=False`."""
        try:
            with self.engine.begin() as conn:
                return self.append_on(conn, events)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.engine.begin() as conn:
            return self.append_on(conn, events)

    def store_many(self, events: list[dict[str, Any]]) -> None:
        """Store events, any number, in one transaction and one statement (the rows travel as one JSON
        parameter), leaving out those whose idempotency key is known; for the capture drain, which needs
        no ids. Retried once on a dead connection, like `append`."""
        if not events:
            return
        rows = json.dumps([{k: e.get(k, _SERVER_DEFAULTS.get(k)) for k in EVENT_COLUMNS} for e in events])
        try:
            with self.engine.begin() as conn:
                conn.execute(_STORE_MANY, {"rows": rows})
            return
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.engine.begin() as conn:
            conn.execute(_STORE_MANY, {"rows": rows})

    def get(self, event_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.events).where(t.events.c.id == event_id)).mappings().one_or_none()
        return dict(row) if row else None

    def get_by_key(self, idempotency_key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            query = select(t.events).where(t.events.c.idempotency_key == idempotency_key)
            row = conn.execute(query).mappings().one_or_none()
        return dict(row) if row else None

    def append_held(self, event: dict[str, Any], note: str) -> tuple[int, bool]:
        """Store one event that no emitter may emit (a manual run's: only the run that stored it
        handles it): it is marked emitted, with `note`, in the transaction that stores it, so no
        emitter ever sees it unmarked. A repeated idempotency key returns the first event's id."""
        with self.engine.begin() as conn:
            ((event_id, created),) = self.append_on(conn, [event])
            if created:
                conn.execute(
                    update(t.events).where(t.events.c.id == event_id).values(emitted_at=func.now(), emit_note=note)
                )
        return event_id, created

    @contextmanager
    def claim_unemitted(
        self, *, ids: list[int] | None = None, limit: int = 500
    ) -> Iterator[tuple[list[dict[str, Any]], Callable[[dict[int, str | None]], None]]]:
        """Lock events not emitted yet (others skip locked rows, so no event is emitted twice by two
        emitters); yields them and `mark(notes by id)`, which commits with the block."""
        with self.engine.begin() as conn:
            query = select(t.events).where(t.events.c.emitted_at.is_(None)).order_by(t.events.c.id).limit(limit)
            if ids is not None:
                query = query.where(t.events.c.id.in_(ids))
            rows = [dict(r) for r in conn.execute(query.with_for_update(skip_locked=True)).mappings()]

            def mark(notes: dict[int, str | None]) -> None:
                by_note: dict[str | None, list[int]] = {}
                for event_id, note in notes.items():
                    by_note.setdefault(note, []).append(event_id)
                for note, ids in by_note.items():  # one UPDATE per distinct note, not per event
                    conn.execute(
                        update(t.events).where(t.events.c.id.in_(ids)).values(emitted_at=func.now(), emit_note=note)
                    )

            yield rows, mark

    # -- per-workflow outcomes -----------------------------------------------------------------

    def claim_run(self, event_id: int, workflow_key: str, run_id: str) -> str | None:
        """None when this run owns the (event, workflow) pair; else the run id that already does."""
        with self.engine.begin() as conn:
            conn.execute(
                pg_insert(t.event_runs)
                .values(event_id=event_id, workflow_key=workflow_key, run_id=run_id, outcome="running")
                .on_conflict_do_nothing()
            )
            owner = conn.execute(
                select(t.event_runs.c.run_id).where(
                    t.event_runs.c.event_id == event_id, t.event_runs.c.workflow_key == workflow_key
                )
            ).scalar_one()
        return None if owner == run_id else owner

    def set_outcome(self, event_id: int, workflow_key: str, outcome: str, reason: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.event_runs)
                .where(t.event_runs.c.event_id == event_id, t.event_runs.c.workflow_key == workflow_key)
                .values(outcome=outcome, reason=reason, decided_at=func.now())
            )

    def outcomes(self, workflow_key: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.event_runs.c.outcome, func.count())
                .where(t.event_runs.c.workflow_key == workflow_key)
                .group_by(t.event_runs.c.outcome)
            ).all()
        return dict(rows)

    def throttle(self, workflow_key: str, scope_key: str, event_id: int, window_seconds: float) -> bool:
        """True when this event opens a new window (it runs); False when one is open (throttled)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                pg_insert(t.throttle_state)
                .values(workflow_key=workflow_key, scope_key=scope_key, last_event_id=event_id, last_at=func.now())
                .on_conflict_do_update(
                    index_elements=["workflow_key", "scope_key"],
                    set_={"last_event_id": event_id, "last_at": func.now()},
                    where=t.throttle_state.c.last_at < _ago(window_seconds),
                )
                .returning(t.throttle_state.c.last_event_id)
            ).one_or_none()
            if row is None:  # a retry of the run that opened the window keeps it
                current = conn.execute(
                    select(t.throttle_state.c.last_event_id).where(
                        t.throttle_state.c.workflow_key == workflow_key, t.throttle_state.c.scope_key == scope_key
                    )
                ).scalar_one_or_none()
                return current == event_id
        return True

    def debounce_mark(self, workflow_key: str, scope_key: str, event_id: int) -> None:
        """The latest event of a scope; a waiting run gives way when a later one arrived."""
        with self.engine.begin() as conn:
            conn.execute(
                pg_insert(t.throttle_state)
                .values(workflow_key=workflow_key, scope_key=scope_key, last_event_id=event_id, last_at=func.now())
                .on_conflict_do_update(
                    index_elements=["workflow_key", "scope_key"],
                    set_={
                        "last_event_id": func.greatest(t.throttle_state.c.last_event_id, event_id),
                        "last_at": func.now(),
                    },
                )
            )

    def debounce_latest(self, workflow_key: str, scope_key: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.throttle_state.c.last_event_id).where(
                    t.throttle_state.c.workflow_key == workflow_key, t.throttle_state.c.scope_key == scope_key
                )
            ).scalar_one_or_none()
