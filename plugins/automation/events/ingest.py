"""Store events in the ledger, then emit the new ones at once."""

from __future__ import annotations

import logging

from automation.events.emitter import emit_pending
from automation.events.models import EventIn, IngestResult
from automation.store.ledger import EventLedger

log = logging.getLogger(__name__)


def ingest(events: list[EventIn], *, source: str = "api", ledger: EventLedger | None = None) -> list[IngestResult]:
    """A repeated idempotency key gives the first event's id with `created=False`. If emitting fails
    the events stay stored; the emitter process emits them later (nothing is lost)."""
    ledger = ledger or EventLedger()
    stored = ledger.append([event.ledger_row(source) for event in events])
    new_ids = [event_id for event_id, created in stored if created]
    emitted = True
    if new_ids:
        try:
            emit_pending(ledger, ids=new_ids)
        except Exception:
            emitted = False
            log.warning("Emitting events %s failed; the emitter will emit them", new_ids[:10], exc_info=True)
    return [IngestResult(id=event_id, created=created, emitted=emitted or not created) for event_id, created in stored]
