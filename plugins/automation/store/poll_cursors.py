"""Poll cursors: where each poll workflow's next poll starts. The only SQL on `poll_cursors`.

Invariant: a poll's new events and its cursor are committed in one transaction (`store_poll`), so a
cursor never moves past items whose events were not stored; the cursor only moves forward (a poll
that overlapped a later one does not take it back); a cursor kept for another request or field
(`scope`) is not used.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from automation.store import tables as t
from automation.store.db import UsesDatabase
from automation.store.ledger import EventLedger


def later(current: Any, candidate: Any) -> Any:
    """The greater of two cursor values (numbers by value, text by its order; `candidate` when the two
    cannot be compared, or `current` is None)."""
    if current is None:
        return candidate
    if candidate is None:
        return current
    both_numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (current, candidate))
    if both_numbers or (isinstance(current, str) and isinstance(candidate, str)):
        return max(current, candidate)
    return candidate


class PollCursors(UsesDatabase):
    def get(self, workflow_key: str, scope: str) -> Any:
        """The cursor kept for the workflow's poll of `scope`; None before the first."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.poll_cursors.c.cursor, t.poll_cursors.c.scope).where(
                    t.poll_cursors.c.workflow_key == workflow_key
                )
            ).one_or_none()
        return row.cursor if row is not None and row.scope == scope else None

    def store_poll(
        self, workflow_key: str, scope: str, events: list[dict[str, Any]], cursor: Any
    ) -> list[tuple[int, bool]]:
        """Store a poll's events (`EventLedger.append_on`: (id, created) each, a known idempotency key
        stored once) and, in the same transaction, move the cursor to `cursor` when that is later."""
        with self.engine.begin() as conn:
            stored = EventLedger.append_on(conn, events)
            if cursor is None:
                return stored
            row = conn.execute(
                select(t.poll_cursors.c.cursor, t.poll_cursors.c.scope)
                .where(t.poll_cursors.c.workflow_key == workflow_key)
                .with_for_update()
            ).one_or_none()
            kept = row.cursor if row is not None and row.scope == scope else None
            value = later(kept, cursor)
            conn.execute(
                pg_insert(t.poll_cursors)
                .values(workflow_key=workflow_key, scope=scope, cursor=value)
                .on_conflict_do_update(
                    index_elements=["workflow_key"], set_={"scope": scope, "cursor": value, "updated_at": func.now()}
                )
            )
        return stored
