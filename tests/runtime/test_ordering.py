"""Ordering per record (`settings.ordering: per_record`): what the run of an event waits for, read from the
ledger and `event_runs` (Airflow's run states come in as `unfinished`: here the states a test gives; the
e2e module tests/e2e/test_ordering_in_airflow.py runs it in Airflow)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from automation.definitions import Workflow
from automation.errors import DefinitionError
from automation.runtime.callbacks import close_unclaimed_event
from automation.runtime.dry_run import dry_run_report
from automation.runtime.ordering import MAX_CHECK_SECONDS, Wait, next_check, waiting_for
from automation.store.db import engine
from automation.store.ledger import EventLedger
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")
TRIGGER = {"type": "record_event", "entity": "deals", "events": ["updated"]}


def ordered(key: str = "ordered", **settings: Any) -> Workflow:
    return validate_definition(workflow(key, trigger=TRIGGER, settings={"ordering": "per_record", **settings}))


def store(*events: tuple[str, str], note: str | None = None) -> list[int]:
    """Ledger events (record id, event type), in this order; returns their ids."""
    rows = [{"idempotency_key": f"e-{n}-{record}-{kind}-{note}", "entity": "deals", "entity_id": record,
             "event": kind, "new_data": {"n": n}} for n, (record, kind) in enumerate(events)]  # fmt: skip
    ids = [event_id for event_id, _ in EventLedger().append(rows)]
    if note:
        with engine().begin() as conn:
            conn.execute(
                text("UPDATE automation.events SET emit_note = :n WHERE id = ANY(:ids)"), {"n": note, "ids": ids}
            )
    return ids


def trigger(record: str, event_id: int | None) -> dict[str, Any]:
    return {"entity": "deals", "id": record, "event": "updated", "event_id": event_id}


class Airflow:
    """Run states as Airflow would answer them: `unfinished` counts the queued or running ones."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def unfinished(self, run_ids: list[str]) -> list[str]:
        return [run_id for run_id in run_ids if self.states.get(run_id) in ("queued", "running")]


def test_a_run_waits_for_the_earlier_events_of_its_record_only() -> None:
    wf, airflow = ordered(), Airflow()
    a1, b1, a2, b2, a3 = store(("A", "updated"), ("B", "updated"), ("A", "updated"), ("B", "updated"),
                               ("A", "updated"))  # fmt: skip
    assert waiting_for(wf, trigger("A", a1), airflow.unfinished) is None  # the first of A goes at once
    assert waiting_for(wf, trigger("B", b1), airflow.unfinished) is None  # so does B's: A holds no other record
    wait = waiting_for(wf, trigger("A", a3), airflow.unfinished)
    assert wait == Wait("deals:A", [a1, a2], [])  # not started yet (queued in Airflow)
    assert "earlier events 1, 3 not started yet" in wait.reason
    assert waiting_for(wf, trigger("B", b2), airflow.unfinished) == Wait("deals:B", [b1], [])


def test_a_run_goes_on_once_every_earlier_run_of_the_record_has_finished_or_failed() -> None:
    wf, airflow, ledger = ordered(), Airflow(), EventLedger()
    first, second, third = store(("A", "updated"), ("A", "updated"), ("A", "updated"))
    assert ledger.claim_run(first, wf.key, "run-1") is None
    airflow.states["run-1"] = "running"
    assert waiting_for(wf, trigger("A", second), airflow.unfinished) == Wait("deals:A", [], ["run-1"])
    ledger.set_outcome(first, wf.key, "ran")
    assert waiting_for(wf, trigger("A", second), airflow.unfinished) == Wait(
        "deals:A", [], ["run-1"]
    )  # its steps go on
    airflow.states["run-1"] = "failed"  # a failed earlier run holds nobody back
    assert waiting_for(wf, trigger("A", second), airflow.unfinished) is None
    # the third waits for the second, whose run is in its gate now
    assert ledger.claim_run(second, wf.key, "run-2") is None
    airflow.states["run-2"] = "running"
    assert waiting_for(wf, trigger("A", third), airflow.unfinished) == Wait("deals:A", [], ["run-2"])
    airflow.states["run-2"] = "success"
    assert waiting_for(wf, trigger("A", third), airflow.unfinished) is None
    airflow.states["run-1"] = "queued"  # a failed run cleared to run again: the ones not started wait for it
    assert waiting_for(wf, trigger("A", third), airflow.unfinished) == Wait("deals:A", [], ["run-1"])
    airflow.states["run-2"] = "running"  # the most recent first
    assert waiting_for(wf, trigger("A", third), airflow.unfinished) == Wait("deals:A", [], ["run-2", "run-1"])


def test_an_event_the_gate_stopped_is_not_waited_for() -> None:
    wf, ledger = ordered(), EventLedger()
    first, second = store(("A", "updated"), ("A", "updated"))
    ledger.claim_run(first, wf.key, "run-1")
    ledger.set_outcome(first, wf.key, "conditions_false", "the conditions are false")
    assert waiting_for(wf, trigger("A", second), Airflow().unfinished) is None


def test_events_no_run_will_ever_take_are_not_waited_for() -> None:
    wf = ordered(ordering_wait="1m")
    store(("A", "created"))  # a type the workflow does not take
    store(("A", "updated"), note="no workflow listens to this event")
    old = store(("A", "updated"))[0]
    with engine().begin() as conn:  # older than ordering_wait: its run never started (from before the workflow)
        conn.execute(text("UPDATE automation.events SET received_at = now() - interval '2 minutes' WHERE id = :id"),
                     {"id": old})  # fmt: skip
    (later,) = store(("A", "updated"))
    assert waiting_for(wf, trigger("A", later), Airflow().unfinished) is None


def test_a_run_that_failed_before_its_gate_claimed_the_event_is_not_waited_for() -> None:
    wf, airflow = ordered(), Airflow()
    first, second = store(("A", "updated"), ("A", "updated"))

    class DagRun:
        dag_id, run_id, partition_key = f"automation__{wf.key}", "run-1", str(first)

    close_unclaimed_event({"dag_run": DagRun()})  # the failure callback of the run
    airflow.states["run-1"] = "failed"
    assert waiting_for(wf, trigger("A", second), airflow.unfinished) is None
    airflow.states["run-1"] = "queued"  # retried from the failed runs: the gate claims the event as run-1 again
    assert waiting_for(wf, trigger("A", second), airflow.unfinished) == Wait("deals:A", [], ["run-1"])
    with engine().connect() as conn:
        outcome = conn.execute(text("SELECT outcome FROM automation.event_runs WHERE event_id = :id"), {"id": first})
        assert outcome.scalar_one() == "not_started"
    # a claimed event keeps its claim
    assert EventLedger().claim_run(second, wf.key, "run-2") is None
    DagRun.run_id, DagRun.partition_key = "run-2", str(second)
    close_unclaimed_event({"dag_run": DagRun()})
    with engine().connect() as conn:
        outcome = conn.execute(text("SELECT outcome FROM automation.event_runs WHERE event_id = :id"), {"id": second})
        assert outcome.scalar_one() == "running"


def test_without_ordering_nothing_waits() -> None:
    wf = validate_definition(workflow("free", trigger=TRIGGER))
    _, second = store(("A", "updated"), ("A", "updated"))
    assert waiting_for(wf, trigger("A", second), Airflow().unfinished) is None


def test_checks_come_sooner_first_then_at_most_every_15_s() -> None:
    pauses = [next_check(n) for n in range(12)]
    assert pauses[0] == 1 and pauses == sorted(pauses) and pauses[-1] == MAX_CHECK_SECONDS == 15


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        (workflow("bad", trigger=TRIGGER, settings={"ordering": "per_recrod"}), "settings.ordering"),
        (workflow("bad", trigger=TRIGGER, settings={"ordering": "per_record", "ordering_wait": "soon"}),
         "settings.ordering_wait"),
        (workflow("bad", trigger={"type": "manual"}, settings={"ordering": "per_record"}), "settings.ordering"),
    ],
)  # fmt: skip
def test_a_bad_ordering_is_refused_with_its_path(definition: dict[str, Any], path: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(definition)
    assert caught.value.issues[0].path == path


def test_the_dry_run_says_a_run_would_wait_for_the_earlier_events_of_its_record() -> None:
    wf = validate_definition(
        workflow("ordered", trigger=TRIGGER, settings={"ordering": "per_record"},
                 steps=[{"id": "note", "type": "create_record", "config": {"collection": "activities", "values": {
                     "body": "x", "entity": "deals", "entity_id": 7}}}])
    )  # fmt: skip
    (earlier,) = store(("7", "updated"))
    report = dry_run_report(wf, 1, {"event": "updated", "id": "7", "new": {"id": 7}, "old": {}})
    assert report["would_run"] is True
    assert report["reason"] == (
        f"ordered: waits for the earlier events of deals:7 (earlier event {earlier} not started yet); "
        "then the conditions decide"
    )
    other = dry_run_report(wf, 1, {"event": "updated", "id": "8", "new": {"id": 8}, "old": {}})
    assert other["would_run"] is True and other["reason"] is None
