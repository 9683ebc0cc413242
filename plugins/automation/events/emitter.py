"""Emit stored events as partitioned asset events (`partition_key` = ledger id): one run per event.

Runs where Airflow's metadata database is reachable: in the emitter process (`automation emitter`),
woken by the ledger insert's NOTIFY (the events API and webhooks only store, so a request costs one
insert and emission is batched), and in `automation emit`.
"""

from __future__ import annotations

import logging
from typing import Any

from automation.store.ledger import EventLedger, event_payload

log = logging.getLogger(__name__)


def asset_uri(entity: str, event: str) -> str:
    return f"automation://{entity}/{event}"


def emit_rows(rows: list[dict[str, Any]]) -> dict[int, str | None]:
    """Register one asset event per row; returns a note per event id (None = emitted)."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    notes: dict[int, str | None] = {}
    if not rows:
        return notes
    uris = {asset_uri(r["entity"], r["event"]) for r in rows}
    with create_session() as session:
        models = {m.uri: m for m in session.scalars(select(AssetModel).where(AssetModel.uri.in_(uris)))}
        for row in rows:
            model = models.get(asset_uri(row["entity"], row["event"]))
            if model is None:
                notes[row["id"]] = "no workflow listens to this event"
                continue
            asset_manager.register_asset_change(
                asset=model,
                extra=event_payload(row),
                partition_key=str(row["id"]),
                source_is_api=True,
                session=session,
            )
            notes[row["id"]] = None
    return notes


def emit_pending(ledger: EventLedger, *, ids: list[int] | None = None, limit: int = 500) -> int:
    """Emit unemitted events (`ids`, or the oldest `limit` ones); returns how many were handled."""
    with ledger.claim_unemitted(ids=ids, limit=limit) as (rows, mark):
        if rows:
            mark(emit_rows(rows))
        return len(rows)
