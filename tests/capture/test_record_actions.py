"""The product's own record actions with capture on: marked in the outbox (origin, depth) so loop
prevention and depth work, never appended twice, and exactly once in a second application database (the
effect record commits with the change there), proven by SIGKILLing the step's process between commits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from automation.capture import install
from automation.capture.outbox import drain_all, has_outbox
from automation.runtime.event_gate import decide
from automation.store.db import engine
from automation.store.ledger import EventLedger, event_payload
from automation.validation import validate_definition
from tests.actions.conftest import run_one_step
from tests.capture.conftest import APP_DB, CRM_DB, ROOT_DIR, ledger_events, psql
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("registry")


def drain() -> int:
    return sum(drain_all(c, EventLedger()) for c in ("automation_db", "capture_app") if has_outbox(c))


def test_a_workflow_updating_its_own_trigger_record_runs_once(deals: list[int]) -> None:
    install.enable(["deals"])
    psql(CRM_DB, f"UPDATE crm.deals SET stage = 'SIGNED' WHERE id = {deals[0]}")
    drain()
    (first,) = ledger_events("deals")
    trigger = {"type": "record_event", **event_payload(first)}
    wf = validate_definition(workflow("t", trigger={"type": "record_event", "entity": "deals", "events": ["updated"]},
                                      steps=[{"id": "s", "type": "update_record", "config": {"collection": "deals",
                                              "id": "{{ trigger.id }}", "values": {"amount": 99}}}]))  # fmt: skip
    assert decide(wf, trigger, "run-1", EventLedger()).run
    step = {"id": "touch", "type": "update_record",
            "config": {"collection": "deals", "id": "{{ trigger.id }}", "values": {"amount": 99}}}  # fmt: skip
    assert run_one_step(step, trigger=trigger).status == "success"
    assert drain() == 1  # the step's change, captured once (the step appended nothing itself)
    assert ledger_events("deals")[0]["id"] == first["id"]
    second = ledger_events("deals")[1]
    assert second["origin_workflow"] == "t" and second["depth"] == 1 and second["actor"] == "workflow:t"
    assert second["old_data"]["amount"] != second["new_data"]["amount"]
    decision = decide(wf, {"type": "record_event", **event_payload(second)}, "run-2", EventLedger())
    assert (decision.run, decision.outcome) == (False, "loop")


def test_a_step_without_capture_still_appends_its_record_events_itself(deals: list[int]) -> None:
    step = {"id": "touch", "type": "update_record",
            "config": {"collection": "deals", "id": deals[0], "values": {"amount": 5}}}  # fmt: skip
    assert run_one_step(step).status == "success"
    (event,) = ledger_events("deals")
    assert event["origin_workflow"] == "t" and event["source"] == "outbox"


def run_child(where: str, try_number: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.capture.step_child", where, str(try_number)],
                          cwd=ROOT_DIR, env=os.environ.copy(), capture_output=True, text=True, timeout=300)  # fmt: skip


def orders() -> list[str]:
    return psql(APP_DB, "SELECT reference FROM shop.orders ORDER BY id").split()


@pytest.mark.parametrize("where", ["automation", "app"])
def test_a_task_killed_between_the_change_and_the_effect_record_repeats_nothing(where: str) -> None:
    """A create_record on the second database: a retry after the kill creates the order exactly once."""
    install.enable(["orders_app"])
    killed = run_child(where, 1)
    assert killed.returncode == -9, killed.stderr[-2000:]
    # killed after the app database's commit: the order, its captured event and its effect record are there
    # together; killed before it: none of them
    assert orders() == (["from-step"] if where == "automation" else [])
    retried = run_child("none", 2)
    assert retried.returncode == 0, retried.stderr[-2000:]
    assert retried.stdout.split()[-1] == ("recorded" if where == "automation" else "success")
    assert orders() == ["from-step"]  # once, never twice
    assert drain() == 1
    (event,) = ledger_events("orders_app")
    assert event["event"] == "created" and event["origin_workflow"] == "t"
    with engine("capture_app").connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM automation_capture.effects")).scalar() == 1
