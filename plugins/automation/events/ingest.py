"""Store events in the ledger. The emitter process emits them on the insert's NOTIFY (in batches,
one Airflow session each); `emit_now` lets a caller without an emitter emit its own at once."""

from __future__ import annotations

import logging

from automation import metrics
from automation.events.emitter import emit_pending
from automation.events.models import EventIn, IngestResult
from automation.store.db import ingest_engine
from automation.store.ledger import EventLedger

log = logging.getLogger(__name__)


def ingest(events: list[EventIn], *, source: str = "api", ledger: EventLedger | None = None) -> list[IngestResult]:
    """A repeated idempotency key gives the first event's id with `created=False` and stores nothing."""
    stored = (ledger or EventLedger(ingest_engine())).append([event.ledger_row(source) for event in events])
    for event, (_, created) in zip(events, stored, strict=True):
        if created:
            metrics.count("automation.events.received", entity=event.entity, event=event.event)
    return [IngestResult(id=event_id, created=created) for event_id, created in stored]


def emit_now(results: list[IngestResult], ledger: EventLedger | None = None) -> bool:
    """Emit the newly stored events here; False when Airflow's database is not reachable (the
    emitter process emits them later: nothing is lost)."""
    new_ids = [r.id for r in results if r.created]
    if not new_ids:
        return True
    try:
        emit_pending(ledger or EventLedger(), ids=new_ids)
    except Exception:
        log.warning("Emitting events %s failed; the emitter will emit them", new_ids[:10], exc_info=True)
        return False
    return True
