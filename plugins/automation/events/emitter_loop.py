"""`automation emitter`: emit outbox events on NOTIFY, and anything left unemitted, until stopped."""

from __future__ import annotations

import logging
import os
import select
import signal
import threading
import time

from automation.events.emitter import emit_pending
from automation.store.db import engine
from automation.store.ledger import EventLedger

log = logging.getLogger(__name__)
CHANNEL = "automation_events"


BATCH = 500


def run_forever(
    poll_seconds: float = 2.0, gather_seconds: float | None = None, stop_event: threading.Event | None = None
) -> None:
    """Emit at once when idle; under load, at most once per `gather_seconds`
    (AUTOMATION_EMITTER_GATHER_MS, default 50) so NOTIFYs that arrive close together become one
    batch: one claim, one Airflow session and one mark for many events instead of one each.
    Stops on SIGTERM/SIGINT, or when `stop_event` is set (then no signal handler is installed)."""
    if gather_seconds is None:
        gather_seconds = float(os.environ.get("AUTOMATION_EMITTER_GATHER_MS", "50")) / 1000
    stopping = stop_event or threading.Event()
    if stop_event is None:
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
    ledger = EventLedger()
    listener = engine().raw_connection()
    listener.driver_connection.autocommit = True
    with listener.driver_connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    log.info("Emitter listening on %s", CHANNEL)
    last_emit = 0.0
    try:
        while not stopping.is_set():
            try:
                last_emit = time.monotonic()
                while emit_pending(ledger, limit=BATCH) == BATCH:
                    pass
            except Exception:
                log.exception("Emitting failed; retrying in %ss", poll_seconds)
                time.sleep(poll_seconds)
            ready, _, _ = select.select([listener.driver_connection], [], [], poll_seconds)
            if ready:
                since = time.monotonic() - last_emit
                if since < gather_seconds:  # busy: let the events of the next few milliseconds join this batch
                    time.sleep(gather_seconds - since)
                listener.driver_connection.poll()
                listener.driver_connection.notifies.clear()
    finally:
        listener.close()
