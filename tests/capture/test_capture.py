"""Change capture against the session's real Postgres: triggers installed by `automation capture enable`,
changes made with psql as an application would, the outbox drained into the ledger by the real code."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from automation.capture import install
from automation.capture.outbox import drain_all, has_outbox
from automation.errors import RegistryError
from automation.store.db import engine
from automation.store.ledger import EventLedger
from tests.capture.conftest import APP_DB, CRM_DB, ledger_events, psql

pytestmark = pytest.mark.usefixtures("registry")


def drain() -> int:
    return sum(drain_all(c, EventLedger()) for c in ("automation_db", "capture_app") if has_outbox(c))


def test_update_insert_delete_on_the_demo_crm_each_become_exactly_one_event(deals: list[int]) -> None:
    install.enable(["deals"])
    first = deals[0]
    psql(CRM_DB, f"UPDATE crm.deals SET stage = 'SIGNED' WHERE id = {first}")
    psql(CRM_DB, "INSERT INTO crm.deals (name, amount) VALUES ('new deal', 10)")
    psql(CRM_DB, f"DELETE FROM crm.deals WHERE id = {deals[2]}")
    assert drain() == 3
    assert drain() == 0  # nothing left, nothing twice
    updated, created, deleted = ledger_events("deals")
    assert (updated["event"], updated["entity_id"]) == ("updated", str(first))
    assert (updated["old_data"]["stage"], updated["new_data"]["stage"]) == ("NEW", "SIGNED")
    assert updated["source"] == "capture" and updated["origin_workflow"] is None and updated["depth"] == 0
    assert created["event"] == "created" and created["old_data"] is None and created["new_data"]["name"] == "new deal"
    assert deleted["event"] == "deleted" and deleted["new_data"] is None and deleted["entity_id"] == str(deals[2])


def test_a_rolled_back_transaction_produces_nothing(deals: list[int]) -> None:
    install.enable(["deals"])
    psql(CRM_DB, f"BEGIN; UPDATE crm.deals SET stage = 'LOST' WHERE id = {deals[0]}; ROLLBACK;")
    assert drain() == 0
    assert ledger_events("deals") == []


def test_a_bulk_update_of_200_rows_produces_200_events(db: None) -> None:
    install.enable(["deals"])
    psql(CRM_DB, "INSERT INTO crm.deals (name) SELECT 'bulk ' || g FROM generate_series(1, 200) g")
    drain()
    before = len(ledger_events("deals"))
    psql(CRM_DB, "UPDATE crm.deals SET stage = 'WON'")
    assert drain() == 200
    events = [e for e in ledger_events("deals")[before:]]
    assert len(events) == 200
    assert {e["event"] for e in events} == {"updated"}
    assert len({e["entity_id"] for e in events}) == 200


def test_a_second_database_is_captured_and_an_unregistered_column_never_reaches_the_event() -> None:
    done = install.enable(["orders_app"])
    assert done == {"orders_app": "capture_app"}
    psql(APP_DB, "INSERT INTO shop.orders (reference, secret) VALUES ('A-1', 'card 4111')")
    psql(APP_DB, "UPDATE shop.orders SET status = 'paid', secret = 'card 5500' WHERE reference = 'A-1'")
    psql(APP_DB, "UPDATE shop.orders SET secret = 'only the secret changed' WHERE reference = 'A-1'")
    psql(APP_DB, "DELETE FROM shop.orders WHERE reference = 'A-1'")
    assert drain() == 3  # the UPDATE of the secret alone changed no registered column: no event
    created, updated, deleted = ledger_events("orders_app")
    assert (created["event"], updated["event"], deleted["event"]) == ("created", "updated", "deleted")
    assert "secret" not in deleted["old_data"] and deleted["new_data"] is None
    for event in (created, updated):
        assert "secret" not in (event["new_data"] or {}) and "secret" not in (event["old_data"] or {})
        assert "card" not in str(event)
    assert (updated["old_data"]["status"], updated["new_data"]["status"]) == ("new", "paid")
    assert updated["actor"] == "database:capture_app"


def test_a_crash_between_the_ledger_commit_and_the_outbox_delete_stores_nothing_twice(deals: list[int]) -> None:
    install.enable(["deals"])
    psql(CRM_DB, f"UPDATE crm.deals SET stage = 'SIGNED' WHERE id = {deals[0]}")

    class Crash(Exception):
        pass

    class DyingLedger(EventLedger):
        def store_many(self, events):  # the ledger commits, then the emitter dies before the outbox delete
            super().store_many(events)
            raise Crash

    with pytest.raises(Crash):
        drain_all("automation_db", DyingLedger())
    assert len(ledger_events("deals")) == 1
    assert drain() == 1  # the rows were still in the outbox: appended again under the same key
    assert len(ledger_events("deals")) == 1


def test_status_shows_installed_collections_backlog_and_last_event_and_disable_removes(deals: list[int]) -> None:
    install.enable(["deals", "orders_app"])
    psql(CRM_DB, f"UPDATE crm.deals SET stage = 'SIGNED' WHERE id = {deals[0]}")
    by_conn = {s.conn_id: s for s in install.status()}
    crm = by_conn["automation_db"]
    assert crm.installed["deals"] is True and crm.installed["contacts"] is False
    assert crm.backlog == 1 and crm.last_event_at is not None
    assert by_conn["capture_app"].installed == {"orders_app": True}
    drain()
    assert {s.conn_id: s for s in install.status()}["automation_db"].backlog == 0
    install.disable(["deals"])
    psql(CRM_DB, f"UPDATE crm.deals SET stage = 'LOST' WHERE id = {deals[0]}")
    assert drain() == 0
    assert {s.conn_id: s for s in install.status()}["automation_db"].installed["deals"] is False


def test_enabling_an_unknown_collection_or_a_missing_table_says_what_to_fix(registry: Path) -> None:
    with pytest.raises(RegistryError, match="'nope' is not in the registry"):
        install.enable(["nope"])
    with engine("capture_app").begin() as conn:
        conn.execute(text("ALTER TABLE shop.orders RENAME TO orders_gone"))
    try:
        with pytest.raises(RegistryError, match=r"table shop.orders does not exist .* 'capture_app'"):
            install.enable(["orders_app"])
    finally:
        with engine("capture_app").begin() as conn:
            conn.execute(text("ALTER TABLE shop.orders_gone RENAME TO orders"))
