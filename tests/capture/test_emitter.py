"""The real emitter process loop with capture: psql changes in the demo CRM and in a second database reach
Airflow as exactly one asset event each (partition key = ledger id); a rolled-back transaction none."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from automation.capture import install
from tests.capture.conftest import (
    APP_DB,
    CRM_DB,
    asset_event_keys,
    ledger_events,
    psql,
    running_emitter,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("registry", "airflow_db")


def emitted(entity: str) -> list[dict]:
    return [e for e in ledger_events(entity) if e["emitted_at"] is not None]


def test_changes_in_both_databases_become_exactly_one_airflow_asset_event_each(
    deals: list[int], airflow_asset: Callable[[str], int]
) -> None:
    deals_asset = airflow_asset("automation://deals/updated")
    orders_asset = airflow_asset("automation://orders_app/updated")
    before = Counter(asset_event_keys(deals_asset)), Counter(asset_event_keys(orders_asset))
    install.enable(["deals", "orders_app"])
    psql(APP_DB, "INSERT INTO shop.orders (reference) VALUES ('A-1')")
    with running_emitter():
        psql(CRM_DB, f"UPDATE crm.deals SET stage = 'SIGNED' WHERE id = {deals[0]}")
        psql(CRM_DB, f"BEGIN; UPDATE crm.deals SET stage = 'LOST' WHERE id = {deals[1]}; ROLLBACK;")
        psql(APP_DB, "UPDATE shop.orders SET status = 'paid' WHERE reference = 'A-1'")
        psql(CRM_DB, "INSERT INTO crm.deals (name) SELECT 'bulk ' || g FROM generate_series(1, 197) g")
        psql(CRM_DB, "UPDATE crm.deals SET amount = amount + 1")  # 200 rows
        wait_until(lambda: len([e for e in emitted("deals") if e["event"] == "updated"]) == 201)
        wait_until(lambda: len(emitted("orders_app")) == 2)
    updates = [e for e in ledger_events("deals") if e["event"] == "updated"]
    assert len(updates) == 201  # one UPDATE of 1 row, none rolled back, one bulk UPDATE of 200 rows
    assert [e["emit_note"] for e in updates] == [None] * 201
    deal_keys = Counter(asset_event_keys(deals_asset)) - before[0]
    assert deal_keys == Counter(str(e["id"]) for e in updates)  # exactly one asset event per change
    (paid,) = [e for e in ledger_events("orders_app") if e["event"] == "updated"]
    assert Counter(asset_event_keys(orders_asset)) - before[1] == Counter([str(paid["id"])])
