"""The dry run is the real pipeline with effects suppressed: the same gate decides (and says why not),
schedule runs get their slot, for_each renders per item, external steps are checked and can be mocked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from automation.definitions import Workflow
from automation.errors import DefinitionError
from automation.runtime.dry_run import dry_run_report, isolated_dry_run
from automation.runtime.event_gate import EventLedger, decide
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")

DEMO = Path(__file__).parents[2] / "plugins" / "automation" / "demo" / "workflows"
NOTE = {"id": "note", "type": "create_record",
        "config": {"collection": "activities", "values": {"body": "stage {{ trigger.new.stage }}", "entity": "deals",
                                                          "entity_id": 7}}}  # fmt: skip
DEAL = {"id": 7, "name": "ACME", "stage": "PROPOSITION"}


def on_deals(key: str = "stage", events: list[str] | None = None, **overrides: Any) -> Workflow:
    trigger = {"type": "record_event", "entity": "deals", "events": events or ["created", "updated"],
               "fields": ["stage"]}  # fmt: skip
    return validate_definition(workflow(key, trigger=trigger, steps=[NOTE], **overrides))


def report(wf: Workflow, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return dry_run_report(wf, 1, event, **kwargs)


def count(table: str) -> int:
    with engine().connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_the_report_starts_with_would_run_and_reason() -> None:
    result = report(on_deals(), {"event": "created", "new": DEAL})
    assert list(result)[:2] == ["would_run", "reason"]
    assert result["would_run"] is True and result["reason"] is None
    assert result["steps"][0]["status"] == "would_run" and result["steps"][0]["output"]["body"] == "stage PROPOSITION"


def test_an_update_that_leaves_the_watched_field_unchanged_would_not_run() -> None:
    unchanged = {"event": "updated", "new": {**DEAL, "name": "ACME 2"}, "old": DEAL}
    result = report(on_deals(), unchanged)
    assert result["would_run"] is False and result["reason"] == "fields_unchanged: none of ['stage'] changed"
    assert [p["status"] for p in result["steps"]] == ["skipped"]
    changed = report(on_deals(), {"event": "updated", "new": {**DEAL, "stage": "SIGNED"}, "old": DEAL})
    assert changed["would_run"] is True and changed["steps"][0]["output"]["body"] == "stage SIGNED"


def test_the_dry_run_and_the_real_gate_decide_with_the_same_code() -> None:
    """The real gate (a ledger event, the writing ledger) says what the dry run says for the same event."""
    wf = on_deals()
    Repository().create(wf)
    unchanged = {"entity": "deals", "id": "7", "event": "updated", "new": {**DEAL, "name": "x"}, "old": DEAL}
    ((event_id, _),) = EventLedger().append([{"idempotency_key": "gate-1", "entity": "deals", "entity_id": "7",
                                              "event": "updated", "new_data": unchanged["new"],
                                              "old_data": DEAL, "source": "api"}])  # fmt: skip
    real = decide(wf, {**unchanged, "event_id": event_id}, "run-1", EventLedger())
    dry = report(wf, unchanged)
    assert (real.run, real.outcome) == (False, "fields_unchanged") and dry["would_run"] is False
    assert dry["reason"] == f"{real.outcome}: {real.reason}"


def test_an_event_type_the_trigger_does_not_subscribe_to_would_not_run() -> None:
    result = report(on_deals(events=["created"]), {"event": "updated", "new": DEAL, "old": DEAL})
    assert result["would_run"] is False
    assert result["reason"] == "not_subscribed: the workflow subscribes to deals created, not updated"
    other = report(on_deals(events=["created"]), {"entity": "contacts", "event": "created", "new": DEAL})
    assert other["reason"] == "not_subscribed: the workflow is triggered by deals events, not contacts"


def test_loops_and_depth_are_refused_as_in_a_real_run() -> None:
    looped = report(on_deals(), {"event": "created", "new": DEAL, "origin": "stage"})
    assert looped["would_run"] is False and looped["reason"].startswith("loop: ")
    deep = report(on_deals(settings={"max_depth": 2}), {"event": "created", "new": DEAL, "depth": 3})
    assert deep["would_run"] is False and deep["reason"] == "depth: depth 3 is over max_depth 2"


def test_an_open_throttle_window_would_drop_the_event_and_the_dry_run_writes_no_state() -> None:
    wf = on_deals(settings={"throttle": {"window": 3600, "scope": "global"}})
    assert report(wf, {"event": "created", "new": DEAL})["would_run"] is True
    assert count("automation.throttle_state") == 0  # the dry run opened no window
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO automation.throttle_state VALUES ('stage', 'global', 1, now())"))
    result = report(wf, {"event": "created", "new": DEAL})
    assert result["would_run"] is False and result["reason"].startswith("throttled: another event of global")
    debounced = report(on_deals("d", settings={"throttle": {"window": 60, "mode": "debounce"}}),
                       {"event": "created", "new": DEAL})  # fmt: skip
    assert debounced["would_run"] is True and debounced["reason"].startswith("debounced: waits 60 s")


def test_false_conditions_and_a_delay_are_the_reason() -> None:
    guarded = on_deals(conditions={"field": "deal.stage", "op": "==", "value": "SIGNED"})
    result = report(guarded, {"event": "created", "new": DEAL})
    assert result["would_run"] is False and result["reason"] == "conditions_false: the conditions are false"
    assert result["conditions_met"] is False and result["steps"][0]["detail"] == "conditions are false"
    later = validate_definition(workflow("later", trigger={"type": "record_event", "entity": "deals",
                                                           "events": ["created"], "delay": "+2 days"},
                                         steps=[NOTE]))  # fmt: skip
    delayed = report(later, {"new": DEAL})
    assert delayed["would_run"] is True and delayed["reason"].startswith("delayed until ")
    assert delayed["steps"][0]["status"] == "would_run"


def test_the_demo_schedule_workflow_dry_runs_with_its_slot() -> None:
    demo = validate_definition(yaml.safe_load((DEMO / "weekly-report-activity.yaml").read_text()))
    result = report(demo, {})
    assert result["would_run"] is True and result["error"] is None, result
    end = datetime.fromisoformat(result["run"]["data_interval_end"])
    paris = end.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (paris.weekday(), paris.hour, paris.minute) == (0, 8, 0)  # the latest Monday 08:00, Paris time
    assert end <= datetime.now(UTC)
    assert result["steps"][0]["output"]["body"] == f"Pipeline review for the week of {end.isoformat()}"
    at = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    pinned = report(demo, {}, at=at)
    assert pinned["run"]["logical_date"] == pinned["run"]["data_interval_start"] == "2026-03-02T07:00:00+00:00"
    assert pinned["steps"][0]["output"]["body"] == "Pipeline review for the week of 2026-03-02T07:00:00+00:00"
    assert count("crm.activities") == 0


def test_for_each_renders_its_inner_config_per_item() -> None:
    each = {"id": "each", "type": "for_each", "config": {
        "items": "{{ params.names }}",
        "action": {"type": "create_record", "config": {"collection": "deals",
                                                       "values": {"name": "{{ index }}: {{ item }}"}}}}}  # fmt: skip
    wf = validate_definition(workflow("each", trigger={"type": "manual"}, steps=[each]))
    result = report(wf, {"params": {"names": ["ACME", "Globex"]}})
    (plan,) = result["steps"]
    assert plan["status"] == "would_run" and plan["output"] == ["ACME", "Globex"]
    assert [i["config"]["values"]["name"] for i in plan["items"]] == ["0: ACME", "1: Globex"]
    assert [i["output"]["name"] for i in plan["items"]] == ["0: ACME", "1: Globex"]
    assert count("crm.deals") == 0


def test_http_request_to_a_host_off_the_allow_list_is_reported_refused() -> None:
    hook = {"id": "hook", "type": "http_request", "config": {"url": "https://crm.example.com/hook"}}
    wf = validate_definition(workflow("hook", trigger={"type": "manual"}, steps=[hook]))
    (plan,) = report(wf, {})["steps"]
    assert plan["status"] == "planned" and plan["detail"].startswith("would POST https://crm.example.com/hook")
    assert "refused here: host 'crm.example.com' is not in the allow-list" in plan["detail"]
    local = validate_definition(workflow("local", trigger={"type": "manual"},
                                         steps=[{**hook, "config": {"url": "http://127.0.0.1:1/x"}}]))  # fmt: skip
    assert "refused" not in report(local, {})["steps"][0]["detail"]


def test_trigger_workflow_to_a_missing_workflow_fails_the_dry_run() -> None:
    start = {"id": "start", "type": "trigger_workflow", "config": {"workflow": "nope"}}
    wf = validate_definition(workflow("parent", trigger={"type": "manual"}, steps=[start]))
    result = report(wf, {})
    assert result["steps"][0]["status"] == "error" and "there is no workflow 'nope'" in result["steps"][0]["detail"]
    assert result["error"].startswith("step 'start' would fail")
    Repository().create(validate_definition(workflow("nope")))
    ok = report(wf, {})
    assert ok["error"] is None and ok["steps"][0]["detail"] == "would start automation__nope"


def test_a_mocked_external_step_gives_later_steps_its_output() -> None:
    steps = [{"id": "hook", "type": "http_request", "config": {"url": "http://127.0.0.1:1/x"}},
             {"id": "ok", "type": "approval", "config": {"subject": "Create it?"}},
             {"id": "deal", "type": "create_record", "config": {"collection": "deals", "values": {
                 "name": "{{ steps.hook.output.body.name }} {{ steps.ok.output.chosen_options[0] }}"}}}]  # fmt: skip
    wf = validate_definition(workflow("mocked", trigger={"type": "manual"}, steps=steps))
    unmocked = report(wf, {})
    assert unmocked["steps"][2]["status"] == "error"  # the HTTP output is unknown without a mock
    mocks = {"hook": {"status": 200, "body": {"name": "ACME"}}, "ok": {"chosen_options": ["Approve"]}}
    result = report(wf, {}, mocks=mocks)
    assert result["steps"][0]["status"] == "planned" and result["steps"][0]["output"] == mocks["hook"]
    assert "the mock given" in result["steps"][0]["detail"]
    assert result["steps"][1]["detail"].startswith("would ask for approval: 'Create it?'")
    assert result["steps"][2]["output"]["name"] == "ACME Approve"
    with pytest.raises(DefinitionError) as error:
        report(wf, {}, mocks={"nosuch": {}})
    assert error.value.issues[0].path == "mocks.nosuch"


def test_the_isolated_dry_run_takes_the_same_keywords() -> None:
    demo = validate_definition(yaml.safe_load((DEMO / "weekly-report-activity.yaml").read_text()))
    at = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    result = isolated_dry_run(demo, 1, {}, at=at, mocks={"note": {"id": 1}})
    assert result["would_run"] is True and result["run"]["data_interval_end"] == "2026-03-09T07:00:00+00:00"
    assert result["steps"][0]["output"]["body"].endswith("2026-03-09T07:00:00+00:00")
