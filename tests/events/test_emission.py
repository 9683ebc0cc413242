"""Emission against Airflow's real metadata database: an emitter that dies between Airflow's commit
and the ledger's mark does not emit the event a second time when the next claim comes."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from automation.events.emitter import asset_uri, emit_pending, emit_rows
from automation.events.models import EventIn
from automation.store.db import engine
from automation.store.ledger import EventLedger
from tests.helpers import airflow_asset_id

pytestmark = pytest.mark.usefixtures("db", "airflow_db")

ENTITY = "emission_test"


class Crash(Exception):
    """The emitter process dying after Airflow's commit (its ledger transaction never commits)."""


@pytest.fixture(scope="module")
def asset_id(airflow_db: None) -> int:
    """An asset in Airflow for `emission_test/created` (no DAG listens: asset events only)."""
    return airflow_asset_id(asset_uri(ENTITY, "created"))[0]


def asset_events(asset: int) -> list[tuple[str, dict]]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        return [(key, extra) for key, extra in session.execute(
            select(AssetEvent.partition_key, AssetEvent.extra).where(AssetEvent.asset_id == asset)
            .order_by(AssetEvent.id))]  # fmt: skip


def append(*keys: str) -> list[int]:
    rows = [EventIn(entity=ENTITY, event="created", id=k, idempotency_key=k).ledger_row("api") for k in keys]
    return [event_id for event_id, _ in EventLedger().append(rows)]


def unemitted() -> list[int]:
    with engine().connect() as conn:
        return list(
            conn.execute(text("SELECT id FROM automation.events WHERE emitted_at IS NULL ORDER BY id")).scalars()
        )


def test_an_event_emitted_before_a_crash_lost_its_mark_is_marked_not_emitted_again(asset_id: int) -> None:
    before = len(asset_events(asset_id))
    ids = append("a", "b", "c")
    ledger = EventLedger()
    with pytest.raises(Crash), ledger.claim_unemitted() as (rows, _mark):
        emit_rows(rows[:2])  # Airflow commits two of them...
        raise Crash  # ...and the process dies before the mark: the ledger still says "not emitted"
    assert unemitted() == ids

    assert emit_pending(ledger) == 3
    new = asset_events(asset_id)[before:]
    assert sorted(int(key) for key, _ in new) == ids  # one asset event per event: a, b once, c now
    assert unemitted() == []
    assert emit_pending(ledger) == 0 and len(asset_events(asset_id)) == before + 3


def test_a_reused_ledger_id_is_still_emitted(asset_id: int) -> None:
    """The automation database recreated (ids start at 1 again) against an Airflow that has seen
    event 1: the new event 1 is another event (its receipt time differs) and is emitted."""
    (first,) = append("old")
    emit_pending(EventLedger())
    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.events RESTART IDENTITY CASCADE"))
    (again,) = append("new")
    assert again == first
    emit_pending(EventLedger())
    same_key = [extra for key, extra in asset_events(asset_id) if key == str(first)]
    assert [e["id"] for e in same_key[-2:]] == ["old", "new"]
    assert unemitted() == []
