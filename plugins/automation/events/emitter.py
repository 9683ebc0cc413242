"""Emit stored events as partitioned asset events (`partition_key` = ledger id): one run per event.

Invariant: an event is registered in Airflow at most once, even when the emitter dies between
Airflow's commit and the ledger's "emitted" mark (two databases, two commits). The ledger rows stay
locked (FOR UPDATE SKIP LOCKED) from the claim to the mark, so two live emitters never hold the same
event; a claim after a crash first looks in Airflow, inside the transaction that would register
the events, for asset events this ledger row already produced (same asset, partition key, event id
and receipt time) and only marks those. Either Airflow's commit happened and is seen, or it did not
and the event is emitted now.

Runs where Airflow's metadata database is reachable: in the emitter process (`automation emitter`),
woken by the ledger insert's NOTIFY (the events API and webhooks only store, so a request costs one
insert and emission is batched), and in `automation emit`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from automation.airflow_adapter import assets
from automation.airflow_adapter.db import airflow_session
from automation.store.ledger import EventLedger, event_payload

log = logging.getLogger(__name__)

#: How far before a batch's oldest receipt an earlier emission's asset event may be dated: Airflow
#: dates it with the emitting host's clock, the ledger with the database's. Bounds the look-up to
#: recent asset events (an index range on asset id and timestamp), never the whole table.
CLOCK_MARGIN = timedelta(seconds=60)


def asset_uri(entity: str, event: str) -> str:
    return f"automation://{entity}/{event}"


def _emitted_before(session: Any, rows: list[dict[str, Any]], asset_ids: set[int]) -> set[int]:
    """Ids of `rows` whose asset event Airflow already has (an emission whose mark was lost)."""
    if not rows:
        return set()
    expected = {str(r["id"]): event_payload(r)["received_at"] for r in rows}
    since = min(r["received_at"] for r in rows) - CLOCK_MARGIN
    found = assets.events_since(session, asset_ids, since, list(expected))
    # ledger ids restart when the automation database is recreated: the receipt time tells this
    # row's event apart from an older event that had the same id
    return {
        int(key)
        for key, extra in found
        if isinstance(extra, dict) and str(extra.get("event_id")) == key and extra.get("received_at") == expected[key]
    }


def emit_rows(rows: list[dict[str, Any]]) -> dict[int, str | None]:
    """Register one asset event per row not registered yet; returns a note per event id (None = emitted)."""
    notes: dict[int, str | None] = {}
    if not rows:
        return notes
    uris = {asset_uri(r["entity"], r["event"]) for r in rows}
    with airflow_session() as session:
        models = assets.assets_by_uri(session, uris)
        listened = [r for r in rows if asset_uri(r["entity"], r["event"]) in models]
        done = _emitted_before(session, listened, {m.id for m in models.values()})
        if done:
            log.warning("Events %s were emitted before a crash; marking them without emitting again", sorted(done))
        for row in rows:
            model = models.get(asset_uri(row["entity"], row["event"]))
            if model is None:
                notes[row["id"]] = "no workflow listens to this event"
                continue
            if row["id"] not in done:
                assets.register_event(session, model, event_payload(row), str(row["id"]))
            notes[row["id"]] = None
    return notes


def emit_pending(ledger: EventLedger, *, ids: list[int] | None = None, limit: int = 500) -> int:
    """Emit unemitted events (`ids`, or the oldest `limit` ones); returns how many were handled."""
    with ledger.claim_unemitted(ids=ids, limit=limit) as (rows, mark):
        if rows:
            mark(emit_rows(rows))
        return len(rows)
