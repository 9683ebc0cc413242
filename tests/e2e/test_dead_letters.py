"""The dead letters against a real Airflow: two events whose second step fails are listed in the
failed view (by entity and event id too), the cause is fixed, one is retried through the bulk API
and the other through the Failed runs page in Chromium, and each run resumes with only its failed
step: the step that succeeded is not run again."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import text

from automation.store.db import engine
from tests.e2e.conftest import AirflowApi, wait_for, wait_for_schedule
from tests.e2e.test_pages_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NARROW,
    SHOTS,
    WAIT_MS,
    WIDE,
    horizontal_overflow,
    new_page,
    shot,
    sign_in,
)

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]
API = "/automation/api/v1"
KEY = "dl-closer"
DEALS = (890001, 890002)
SLOW = 180

CLOSER = {
    "key": KEY, "name": "Note and close", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "dl_orders", "events": ["updated"]},
    # a missing record is permanent (never retried); one retry covers a task start a busy machine drops
    "settings": {"retries": 1, "retry_delay": 1},
    "steps": [
        {"id": "note", "type": "create_record",
         "config": {"collection": "activities",
                    "values": {"body": "closing {{ trigger.id }}", "entity": "deals", "entity_id": "{{ trigger.id }}"}}},
        {"id": "close_deal", "type": "update_record", "depends_on": ["note"],
         "config": {"collection": "deals", "id": "{{ trigger.id }}", "values": {"stage": "WON"}}},
    ],
}  # fmt: skip


def post_event(airflow: AirflowApi, deal: int) -> int:
    event = {"entity": "dl_orders", "event": "updated", "id": deal, "new": {"id": deal}, "old": {"id": deal}}
    response = airflow.client.post(f"{API}/events", json=event)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def steps(airflow: AirflowApi, run_id: str) -> dict[str, dict]:
    response = airflow.client.get(f"{API}/workflows/{KEY}/executions/{run_id}", timeout=SLOW)
    assert response.status_code == 200, response.text
    return {s["step_id"]: {**s, "status": response.json()["status"]} for s in response.json()["steps"]}


def notes(deal: int) -> int:
    with engine().connect() as conn:
        query = text("SELECT count(*) FROM crm.activities WHERE entity = 'deals' AND entity_id = :d")
        return int(conn.execute(query, {"d": deal}).scalar_one())


def test_failed_runs_are_listed_and_a_bulk_retry_reruns_only_their_failed_steps(airflow: AirflowApi) -> None:
    api = airflow.client
    assert api.post(f"{API}/workflows", json=CLOSER).status_code == 201
    wait_for_schedule(airflow, f"automation__{KEY}")
    events = [post_event(airflow, deal) for deal in DEALS]

    def dead_letters() -> dict[int, dict] | None:
        page = api.get(f"{API}/executions/failed", params={"workflow": KEY}, timeout=SLOW).json()
        found = {e["event"]["event_id"]: e for e in page["executions"] if e["event"]}
        return found if set(found) == set(events) else None

    failed = wait_for(dead_letters, 240, "both runs in the failed view")
    runs = [failed[event]["run_id"] for event in events]
    for event in events:
        assert [(s["step_id"], s["state"]) for s in failed[event]["failed_steps"]] == [("close_deal", "failed")]
        assert str(DEALS[events.index(event)]) in failed[event]["failed_steps"][0]["error"]
    by_event = api.get(f"{API}/executions", params={"event_id": events[0]}).json()
    assert [e["run_id"] for e in by_event["executions"]] == [runs[0]]  # the run's partition key is its event
    by_entity = api.get(f"{API}/executions/failed", params={"entity": "dl_orders", "entity_id": DEALS[1]}).json()
    assert [e["run_id"] for e in by_entity["executions"]] == [runs[1]]
    assert all(notes(deal) == 1 for deal in DEALS)

    # fix the cause: the deals exist now
    with engine().begin() as conn:
        for deal in DEALS:
            conn.execute(text("INSERT INTO crm.deals (id, name) VALUES (:d, 'Fixed')"), {"d": deal})

    # the first through the bulk API (with a run that is not failed: left alone)
    body = {"runs": [{"key": KEY, "run_id": runs[0]}, {"key": KEY, "run_id": "manual__not-a-run"}]}
    retried = api.post(f"{API}/executions/retry", json=body, timeout=SLOW)
    assert retried.status_code == 200, retried.text
    assert [(r["outcome"], r["steps"]) for r in retried.json()["results"]] == [("retried", ["close_deal"]),
                                                                               ("not_found", [])]  # fmt: skip
    listed = [e["run_id"] for e in api.get(f"{API}/executions/failed", params={"workflow": KEY}).json()["executions"]]
    assert listed == [runs[1]]  # the retried run left the dead letters at once

    # the second through the page: select, confirm, see what happened
    assert Path(CHROMIUM).exists()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=WAIT_MS)
        page = new_page(browser, WIDE)
        sign_in(page, airflow.base, f"/automation/ui/failed?workflow={KEY}")
        page.goto(f"{airflow.base}/automation/ui/failed?workflow={KEY}")
        expect(page.get_by_text("close_deal").first).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot(page, "failed-1280")
        page.set_viewport_size(NARROW)
        assert horizontal_overflow(page) <= 0  # a phone reads it without scrolling sideways
        shot(page, "failed-390")
        page.set_viewport_size(WIDE)
        page.get_by_label(f"Select {KEY} run {runs[1]}").check()
        page.get_by_role("button", name="Retry selected").click()
        expect(page.get_by_role("heading", name="Retry 1 execution?")).to_be_visible()
        page.get_by_role("button", name="Retry 1").click()
        expect(page.get_by_role("heading", name="Retried 1 of 1")).to_be_visible()
        expect(page.locator(f"tr[data-outcome='retried'][data-run='{runs[1]}']")).to_contain_text("close_deal")
        browser.close()

    # both resume in Airflow and succeed; the note step ran once in each
    for run_id in runs:
        done = wait_for(lambda run_id=run_id: (s := steps(airflow, run_id))["note"]["status"] in {"success", "failed"}
                        and s, 240, f"the retried run {run_id} to end")  # fmt: skip
        assert done["note"]["status"] == "success" and done["close_deal"]["state"] == "success", done
        assert done["note"]["attempts"] == 1 and done["close_deal"]["attempts"] == 2
    assert all(notes(deal) == 1 for deal in DEALS)
    assert api.get(f"{API}/executions/failed", params={"workflow": KEY}).json()["total"] == 0
