"""`automation emitter`: emit outbox events on NOTIFY, and anything left unemitted, until stopped.

Invariant: the loop only ends when asked to (SIGTERM/SIGINT or `stop_event`). A database that goes
away (a restart, a network cut) costs a reconnect with backoff, never the process: the LISTEN
connection is reopened, and everything stored meanwhile (its NOTIFYs are lost) is emitted by the
sweep that follows every (re)connect.

Captured changes (`automation capture enable`): every registry connection whose database has the capture
outbox is LISTENed to as well (`automation_capture`, NOTIFYed when a capturing transaction commits) and
drained into the ledger before each emission, with the same recovery: a sweep after every (re)connect,
and a look for newly enabled databases every REFRESH_SECONDS. A capture database that goes away is
logged and retried then; it never stops the emission of the others.
"""

from __future__ import annotations

import logging
import select
import signal
import threading
import time
from typing import Any

from automation.capture import sql as capture_sql
from automation.capture.install import capture_connections
from automation.capture.outbox import drain_all, has_outbox
from automation.config import DB_CONN_ID, emitter_gather_ms
from automation.errors import StoreError
from automation.events.emitter import emit_pending
from automation.store.db import engine
from automation.store.ledger import EventLedger

log = logging.getLogger(__name__)
CHANNEL = "automation_events"


BATCH = 500
#: Seconds between reconnect attempts after the database went away: 1, 2, 4 ... this many at most.
MAX_BACKOFF = 30.0
#: Seconds between looks for capture outboxes (a database where capture was just enabled)
REFRESH_SECONDS = 10.0


def _listen(conn_id: str = DB_CONN_ID, channel: str = CHANNEL) -> Any:
    """A raw autocommit connection LISTENing on `channel` (its driver connection is polled)."""
    listener = engine(conn_id).raw_connection()
    try:
        driver = listener.driver_connection
        if driver is None:
            raise RuntimeError("the database driver gave no connection to LISTEN on")
        driver.autocommit = True
        with driver.cursor() as cursor:
            cursor.execute(f"LISTEN {channel}")
    except BaseException:
        listener.invalidate()
        raise
    return listener


def _close(listener: Any) -> None:
    try:
        listener.invalidate()  # never back into the pool: its session LISTENs
    except Exception:
        log.debug("Closing the LISTEN connection failed", exc_info=True)


class CaptureSources:
    """The LISTEN connections of the capture outboxes, by connection id, and their drain."""

    def __init__(self) -> None:
        self.listeners: dict[str, Any] = {}
        self.refreshed = float("-inf")

    def refresh(self) -> None:
        """LISTEN on every registry database that has an outbox and is not listened to yet."""
        self.refreshed = time.monotonic()
        try:
            wanted = capture_connections()
        except Exception as exc:
            log.warning("Cannot read the collections registry for capture (%s)", str(exc).strip()[:300])
            return
        for conn_id in sorted(wanted - set(self.listeners)):
            try:
                if has_outbox(conn_id):
                    self.listeners[conn_id] = _listen(conn_id, capture_sql.CHANNEL)
                    log.info("Emitter listening on %s of connection %s", capture_sql.CHANNEL, conn_id)
            except Exception as exc:
                log.warning("Cannot LISTEN for captured changes on %s (%s)", conn_id, str(exc).strip()[:300])

    def drain(self, ledger: EventLedger) -> None:
        """Move captured changes into the ledger; a failing database is dropped (retried at the next refresh)."""
        if time.monotonic() - self.refreshed > REFRESH_SECONDS:
            self.refresh()
        for conn_id in list(self.listeners):
            try:
                drain_all(conn_id, ledger, BATCH)
            except Exception as exc:
                log.warning("Draining captured changes of %s failed (%s)", conn_id, str(exc).strip()[:300])
                self.drop(conn_id)

    def drop(self, conn_id: str) -> None:
        listener = self.listeners.pop(conn_id, None)
        if listener is not None:
            _close(listener)
        self.refreshed = float("-inf")

    def poll(self) -> None:
        for conn_id, listener in list(self.listeners.items()):
            try:
                connection = listener.driver_connection
                connection.poll()
                connection.notifies.clear()
            except Exception as exc:
                log.warning("Lost the capture LISTEN connection of %s (%s)", conn_id, str(exc).strip()[:300])
                self.drop(conn_id)

    def close(self) -> None:
        for conn_id in list(self.listeners):
            _close(self.listeners.pop(conn_id))


def _serve(
    listener: Any,
    ledger: EventLedger,
    stopping: threading.Event,
    poll_seconds: float,
    gather_seconds: float,
    sources: CaptureSources | None = None,
) -> None:
    """Emit until stopped; raises when the LISTEN connection fails (the caller reconnects)."""
    last_emit = 0.0
    failing = False
    sources = sources or CaptureSources()
    while not stopping.is_set():
        try:
            last_emit = time.monotonic()
            sources.drain(ledger)
            while emit_pending(ledger, limit=BATCH) == BATCH:
                pass
            failing = False
        except Exception as exc:
            if failing:  # the traceback once per outage, then one line per retry
                log.warning("Emitting still fails (%s); retrying in %ss", str(exc).strip()[:200], poll_seconds)
            else:
                log.exception("Emitting failed; retrying in %ss", poll_seconds)
            failing = True
            stopping.wait(poll_seconds)
        connection = listener.driver_connection
        captured = [c.driver_connection for c in sources.listeners.values()]
        ready, _, _ = select.select([connection, *captured], [], [], poll_seconds)
        if ready:
            since = time.monotonic() - last_emit
            if since < gather_seconds:  # busy: let the events of the next few milliseconds join this batch
                time.sleep(gather_seconds - since)
        connection.poll()  # also when idle: a dead server shows here, not only on the next NOTIFY
        connection.notifies.clear()
        sources.poll()


def run_forever(
    poll_seconds: float = 2.0, gather_seconds: float | None = None, stop_event: threading.Event | None = None
) -> None:
    """Emit at once when idle; under load, at most once per `gather_seconds`
    ([automation] emitter_gather_ms, default 50) so NOTIFYs that arrive close together become one
    batch: one claim, one Airflow session and one mark for many events instead of one each.
    Stops on SIGTERM/SIGINT, or when `stop_event` is set (then no signal handler is installed)."""
    if gather_seconds is None:
        gather_seconds = emitter_gather_ms() / 1000
    stopping = stop_event or threading.Event()
    if stop_event is None:
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
    ledger = EventLedger()
    sources = CaptureSources()
    backoff = 1.0
    while not stopping.is_set():
        try:
            listener = _listen()
        except StoreError:  # not configured (no connection): waiting does not help
            raise
        except Exception as exc:
            log.warning("Cannot LISTEN on %s (%s); retrying in %.0fs", CHANNEL, str(exc).strip()[:300], backoff)
            stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        log.info("Emitter listening on %s", CHANNEL)
        served = time.monotonic()
        try:
            _serve(listener, ledger, stopping, poll_seconds, gather_seconds, sources)
        except Exception as exc:
            if time.monotonic() - served > MAX_BACKOFF:  # it had been working: start over at 1 s
                backoff = 1.0
            log.warning("Lost the LISTEN connection (%s); reconnecting in %.0fs", str(exc).strip()[:300], backoff)
            stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            _close(listener)
    sources.close()
