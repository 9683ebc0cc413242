"""Move captured changes from an application database's outbox into the event ledger.

Invariant: a committed change becomes exactly one ledger event. Rows are locked in the application
database (FOR UPDATE SKIP LOCKED, so two emitters never take the same rows), appended to the ledger under
an idempotency key made of the connection, the capturing transaction and the row id (the ledger commits),
and only then deleted from the outbox (the application database commits). A crash between the two
commits leaves the rows in the outbox; the next drain appends them again and the ledger, seeing known
keys, stores nothing twice. A rolled-back transaction never reached the outbox.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import text

from automation.capture.sql import SCHEMA
from automation.store.db import engine
from automation.store.ledger import EventLedger

BATCH = 500

_CLAIM = text(
    f"SELECT id, collection, event, entity_id, old_data, new_data, origin, depth, actor, txid "
    f"FROM {SCHEMA}.outbox ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_DELETE = text(f"DELETE FROM {SCHEMA}.outbox WHERE id = ANY(:ids)")
_MARK = text(
    f"INSERT INTO {SCHEMA}.drained (singleton, last_id, last_at) VALUES (true, :last, now()) "
    "ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id, last_at = excluded.last_at"
)


def _connection_tag(conn_id: str) -> str:
    return hashlib.sha256(conn_id.encode()).hexdigest()[:12]


def ledger_event(conn_id: str, row: Any) -> dict[str, Any]:
    """The ledger row of one outbox row (the product's own changes keep their origin and depth)."""
    return {
        "idempotency_key": f"capture:{_connection_tag(conn_id)}:{row['txid']}:{row['id']}",
        "entity": row["collection"],
        "entity_id": row["entity_id"],
        "event": row["event"],
        "old_data": row["old_data"],  # JSON already: read from jsonb
        "new_data": row["new_data"],
        "actor": (row["actor"] or f"database:{conn_id}")[:200],
        "origin_workflow": (row["origin"] or None) and row["origin"][:63],
        "depth": int(row["depth"] or 0),
        "source": "capture",
    }


def has_outbox(conn_id: str) -> bool:
    with engine(conn_id).connect() as conn:
        return conn.execute(text("SELECT to_regclass(:t)"), {"t": f"{SCHEMA}.outbox"}).scalar() is not None


def drain(conn_id: str, ledger: EventLedger, limit: int = BATCH) -> int:
    """Move up to `limit` captured changes of `conn_id`'s database into the ledger; returns how many."""
    with engine(conn_id).begin() as app:
        rows = list(app.execute(_CLAIM, {"limit": limit}).mappings())
        if not rows:
            return 0
        ledger.store_many([ledger_event(conn_id, r) for r in rows])
        ids = [r["id"] for r in rows]
        app.execute(_DELETE, {"ids": ids})
        app.execute(_MARK, {"last": max(ids)})
    return len(rows)


def drain_all(conn_id: str, ledger: EventLedger, limit: int = BATCH) -> int:
    """Drain until the outbox is empty (or other emitters hold the rest); returns how many were moved."""
    total = 0
    while (moved := drain(conn_id, ledger, limit)) > 0:
        total += moved
        if moved < limit:
            break
    return total
