"""`automation emitter`: emit outbox events on NOTIFY, and anything left unemitted, until stopped."""

from __future__ import annotations

import logging
import select
import signal
import time

from automation.events.emitter import emit_pending
from automation.store.db import engine
from automation.store.ledger import EventLedger

log = logging.getLogger(__name__)
CHANNEL = "automation_events"


def run_forever(poll_seconds: float = 2.0) -> None:
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ledger = EventLedger()
    listener = engine().raw_connection()
    listener.driver_connection.autocommit = True
    with listener.driver_connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    log.info("Emitter listening on %s", CHANNEL)
    try:
        while not stopping:
            try:
                while emit_pending(ledger):
                    pass
            except Exception:
                log.exception("Emitting failed; retrying in %ss", poll_seconds)
                time.sleep(poll_seconds)
            ready, _, _ = select.select([listener.driver_connection], [], [], poll_seconds)
            if ready:
                listener.driver_connection.poll()
                listener.driver_connection.notifies.clear()
    finally:
        listener.close()
