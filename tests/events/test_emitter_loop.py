"""The emitter process's loop, against the real ledger and Airflow's metadata database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from automation.events.emitter_loop import run_forever
from automation.store.db import engine

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def outbox_insert(key: str) -> int:
    """An app's own transaction inserting one event (the insert trigger NOTIFYs the emitter)."""
    with engine().begin() as conn:
        return conn.execute(
            text("INSERT INTO automation.events (idempotency_key, entity, entity_id, event) "
                 "VALUES (:k, 'nobody_listens', '1', 'created') RETURNING id"), {"k": key}
        ).scalar_one()  # fmt: skip


def emitted() -> dict[int, object]:
    with engine().connect() as conn:
        rows = conn.execute(text("SELECT id, emitted_at FROM automation.events WHERE emitted_at IS NOT NULL"))
        return {r.id: r.emitted_at for r in rows}


def wait_until(check, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def emitter() -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, kwargs={"gather_seconds": 2.0, "stop_event": stop}, daemon=True)
    thread.start()
    time.sleep(0.5)  # listening
    yield
    stop.set()
    thread.join(10)


@pytest.mark.usefixtures("emitter")
def test_an_event_on_an_idle_emitter_goes_out_alone_and_a_quick_series_goes_out_together() -> None:
    warm = outbox_insert("warm-up")  # the first emit imports Airflow's asset manager: slow
    wait_until(lambda: warm in emitted())
    time.sleep(2.5)  # idle for longer than the gathering window
    first = outbox_insert("idle")
    wait_until(lambda: first in emitted())
    series = [outbox_insert(f"busy-{i}") for i in range(5)]  # within the 2 s gathering window
    wait_until(lambda: set(series) <= set(emitted()))
    times = emitted()
    # one batch, one transaction: the same emitted_at; the idle event was not held back for it
    assert len({times[i] for i in series}) == 1
    assert times[first] < times[series[0]]


def test_the_emitter_survives_a_database_restart_and_emits_what_came_in_meanwhile(tmp_path, monkeypatch) -> None:
    """The ledger on a Postgres of its own, stopped under the running loop and started again."""
    from automation.local.embedded_db import EmbeddedPostgres, free_port
    from automation.store.db import dispose_engines
    from automation.store.migrate import upgrade

    own = EmbeddedPostgres(tmp_path / "pg", free_port()).start()
    own.create_database("automation")
    monkeypatch.setenv("AIRFLOW_CONN_AUTOMATION_DB", own.url("automation"))
    dispose_engines()
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, kwargs={"poll_seconds": 0.5, "stop_event": stop}, daemon=True)
    try:
        upgrade()
        thread.start()
        first = outbox_insert("before")
        wait_until(lambda: first in emitted())
        own.stop()
        time.sleep(3)  # the loop finds the server gone and keeps trying
        own.start()
        engine().dispose()  # this test's own pooled connections died with the server
        second = outbox_insert("after")
        wait_until(lambda: second in emitted(), 120)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)
        dispose_engines()
        own.stop()
