from __future__ import annotations

import pendulum
import pytest
from sqlalchemy import text

from automation.runtime.event_gate import decide, delayed_start
from automation.runtime.inactivity import idle_records, inactivity_rows
from automation.store.db import engine
from automation.store.ledger import EventLedger
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")


def record_workflow(**trigger: object) -> object:
    return validate_definition(workflow("wf", trigger={"type": "record_event", "entity": "deals",
                                                       "events": ["updated"], **trigger}))  # fmt: skip


def event(**fields: object) -> dict:
    ((event_id, _),) = EventLedger().append([{"idempotency_key": str(fields), "entity": "deals", "event": "updated"}])
    return {"event_id": event_id, "entity": "deals", "id": 1, "event": "updated", **fields}


def test_fields_origin_and_depth_decide_whether_a_run_goes_on() -> None:
    ledger = EventLedger()
    wf = record_workflow(fields=["stage"])
    same = event(new={"stage": "A", "amount": 2}, old={"stage": "A", "amount": 1})
    assert decide(wf, same, "r1", ledger).outcome == "fields_unchanged"
    moved = event(new={"stage": "B"}, old={"stage": "A"})
    assert decide(wf, moved, "r2", ledger).run is True
    assert decide(wf, moved, "r3", ledger).outcome == "duplicate"
    assert decide(wf, event(origin="wf", new={"stage": "C"}), "r4", ledger).outcome == "loop"
    assert decide(wf, event(origin="other", depth=4, new={"stage": "D"}), "r5", ledger).outcome == "depth"


def test_throttle_drops_later_events_of_the_same_record() -> None:
    wf = validate_definition({**workflow("wf", trigger={"type": "record_event", "entity": "deals", "events": ["updated"]}),
                              "settings": {"throttle": {"window": "1m", "scope": "entity"}}})  # fmt: skip
    ledger = EventLedger()
    assert decide(wf, event(n=1), "r1", ledger).run is True
    assert decide(wf, event(n=2), "r2", ledger).outcome == "throttled"
    assert decide(wf, {**event(n=3), "id": 2}, "r3", ledger).run is True


def test_delayed_start_relative_to_the_event_or_a_field() -> None:
    received = "2026-03-01T10:00:00+00:00"
    wf = record_workflow(delay="+3 days")
    assert delayed_start(wf, {"received_at": received}) == pendulum.datetime(2026, 3, 4, 10)
    wf = record_workflow(delay={"field": "due_date", "offset": "-1 day"})
    assert delayed_start(wf, {"new": {"due_date": "2026-05-10T09:00:00+00:00"}}) == pendulum.datetime(2026, 5, 9, 9)
    assert delayed_start(wf, {"new": {}}) is None


def test_inactivity_scan_starts_each_record_once_per_idle_period() -> None:
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO crm.deals (name, stage, updated_at) VALUES "
                          "('old', 'PROPOSITION', now() - interval '40 days'), "
                          "('old lost', 'LOST', now() - interval '40 days'), ('fresh', 'PROPOSITION', now())"))  # fmt: skip
    wf = validate_definition(workflow("idle", trigger={
        "type": "inactivity", "entity": "deals", "days": 30,
        "filter": {"field": "stage", "op": "in", "value": ["PROPOSITION", "QUALIFICATION"]}}))  # fmt: skip
    records = idle_records(wf.trigger)
    assert [r["name"] for r in records] == ["old"]
    ledger = EventLedger()
    assert [created for _, created in ledger.append(inactivity_rows("idle", wf.trigger, records))] == [True]
    assert [created for _, created in ledger.append(inactivity_rows("idle", wf.trigger, idle_records(wf.trigger)))] == [
        False
    ]
    with engine().begin() as conn:  # activity, then idle again: a new period, a new run
        conn.execute(text("UPDATE crm.deals SET updated_at = now() - interval '31 days' WHERE name = 'old'"))
    assert [created for _, created in ledger.append(inactivity_rows("idle", wf.trigger, idle_records(wf.trigger)))] == [
        True
    ]


def test_inactivity_needs_a_registered_entity_and_column() -> None:
    from automation.errors import DefinitionError

    with pytest.raises(DefinitionError, match="trigger.activity_field"):
        validate_definition(workflow("idle", trigger={"type": "inactivity", "entity": "deals", "days": 3,
                                                      "activity_field": "touched_at"}))  # fmt: skip
