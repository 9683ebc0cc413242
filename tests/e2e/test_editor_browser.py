"""The workflow editor and the workflow buttons in the real Airflow UI, driven by headless Chromium.

An admin creates a workflow from scratch in the editor (a record trigger on deals, amount > 50000 built
with the condition builder, two steps whose forms come from their actions' schemas, a step notice on
failure from the schema with a named template), sees a field error appear and clear, dry-runs it against
a sample event, saves it, finds its DAG in Airflow, edits it into version 2 after reviewing the diff,
runs it for a record and opens that execution, duplicates, deactivates and deletes; a failed execution
is retried and its failed step skipped; a viewer sees no write button and a forged post is refused.
Every page (list, detail, editor, execution; stats in test_pages_browser) is shot at 1400 and 390 px,
where nothing may scroll sideways. Screenshots go to test-artifacts/editor/.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import text

from automation.store.db import engine
from tests.conftest import ROOT
from tests.e2e.conftest import AirflowApi, wait_for
from tests.e2e.test_pages_browser import (  # noqa: F401 - `browser` is a fixture used by name
    NARROW,
    WIDE,
    both_widths,
    browser,
    collect_errors,
    horizontal_overflow,
    new_page,
)
from tests.helpers import workflow

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]

SHOTS = ROOT / "test-artifacts" / "editor"
KEY = "editor-big-deals"
NAME = "Big deals <script>alert(1)</script>"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in_to(page: Page, base: str, path: str, username: str = "admin") -> None:
    """Airflow's login page, then back to the plugin page asked for."""
    page.goto(base + path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + path)


def tab_to(page: Page, target: Locator, limit: int = 250) -> None:
    """Tab (the keyboard only) until `target` has the focus: it is reachable in the Tab order."""
    handle = target.element_handle()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("el => document.activeElement === el", handle):
            return
    raise AssertionError(f"{limit} Tab presses did not reach {target}")


def step(page: Page, index: int) -> Locator:
    return page.locator(".step-form").nth(index)


def config(page: Page, index: int) -> Locator:
    """The form generated from step `index`'s action schema."""
    return page.locator(f"fieldset[data-field='steps[{index}].config']")


def settled(page: Page) -> None:
    """The live check answered for what is on the form now (no check pending)."""
    page.wait_for_timeout(400)  # the form's debounce; then the status reflects the server's answer
    expect(page.locator("#ed-status")).not_to_have_text("Checking...")


def test_create_a_workflow_in_the_editor_dry_run_save_and_edit_it_into_version_2(
    airflow: AirflowApi,
    browser: Browser,  # noqa: F811
) -> None:
    page = new_page(browser, WIDE)
    sign_in_to(page, airflow.base, "/automation/ui/workflows")
    errors = collect_errors(page)
    page.reload()
    both_widths(page, shot, "workflows-list")
    page.get_by_role("link", name="New workflow").click()
    page.wait_for_url(re.compile(r".*/automation/ui/editor/new$"))
    expect(page.locator("#ed-status")).to_contain_text("problem")  # an empty new workflow has problems
    both_widths(page, shot, "editor-new")

    # basics
    page.get_by_label(re.compile(r"^Name\b")).fill(NAME)
    page.get_by_label(re.compile(r"^Key\b")).fill(KEY)
    page.get_by_label("Status").select_option("ACTIVE")

    # trigger: a record trigger on deals, from the registry's collections
    expect(page.get_by_label(re.compile(r"^Trigger type\b"))).to_have_value("record_event")
    page.get_by_label(re.compile(r"^Entity\b")).select_option("deals")
    expect(page.locator("[data-field='trigger.events'] input[value=created]")).to_be_checked()
    expect(page.locator("[data-field='trigger.fields']")).to_contain_text("amount")  # the columns of deals

    # conditions: the builder, amount > 50000 (the operator list is the operator table)
    page.get_by_label("Only when...").first.check()
    clause = page.locator("#ed-conditions .clause").first
    clause.get_by_label(re.compile(r"^Field\b")).fill("deal.amount")
    clause.get_by_label(re.compile(r"^Operator\b")).select_option(">")
    clause.get_by_label(re.compile(r"^Value\b")).fill("50000")
    expect(clause).to_contain_text("deal.amount is number")

    # step 1: create_task's form comes from its schema; a missing title is shown at the field
    first = step(page, 0)
    expect(first.get_by_label(re.compile(r"^Action\b"))).to_have_value("create_task")
    title = config(page, 0).get_by_label(re.compile(r"^Title\b"))
    title.fill("")
    settled(page)
    error = first.locator(".field-error[data-error-path='steps[0].config.title']")
    expect(error).to_be_visible()
    expect(title).to_have_attribute("aria-invalid", "true")
    shot(page, "editor-field-error")
    title.fill("Call about {{ deal.name }}")
    expect(error).to_have_count(0)
    expect(title).not_to_have_attribute("aria-invalid", "true")

    # step 2: another action's form, generated the same way (the button reached with the keyboard)
    tab_to(page, page.get_by_role("button", name="Add a step"))
    page.keyboard.press("Enter")
    second = step(page, 1)
    second.get_by_label(re.compile(r"^Action\b")).select_option("send_notification")
    config(page, 1).get_by_label(re.compile(r"^Title\b")).fill("Big deal: {{ deal.name }}")
    config(page, 1).get_by_label("Level").select_option("success")

    # step 1's notices, from the step schema's `notify`: on failure, an email with a named template
    policy = first.locator("details.step-policy")
    policy.locator("summary").click()
    expect(policy.get_by_label("On start", exact=True)).not_to_be_checked()
    policy.get_by_label("On failure", exact=True).check()
    on_failure = policy.locator("[data-field='steps[0].notify.on_failure']")
    notification = on_failure.get_by_label("Notification", exact=True)
    expect(notification).to_be_checked()  # turned on with its default: a notification in the app
    notification.uncheck()  # nothing left to say: the notice's own rule, shown at the notice
    settled(page)
    expect(page.locator(".field-error[data-error-path='steps[0].notify.on_failure']")).to_contain_text("a notice needs")
    on_failure.get_by_label(re.compile(r"^Email\b")).fill("ops@example.com")
    expect(on_failure.locator("datalist option[value=step-failed]")).to_have_count(1)  # the named templates
    on_failure.get_by_label("Template").fill("step-failed")
    shot(page, "editor-step-notice")
    settled(page)
    expect(page.locator("#ed-status")).to_have_text("No problems: the workflow can be saved.")

    # the text view follows the form
    text_view = page.locator("#ed-text")
    expect(text_view).to_have_value(re.compile(r"op: '>'\n\s+value: 50000"))
    expect(text_view).to_have_value(re.compile("type: send_notification"))
    expect(text_view).to_have_value(re.compile(r"notify:\n\s+on_failure:\n\s+notification: false\n"))

    # dry run against a sample event: the conditions hold, both steps would run
    page.get_by_label("Sample event (JSON: id, new, old)").fill(
        '{"id": 1, "new": {"id": 1, "name": "Acme", "amount": 75000, "stage": "NEW"},'
        ' "old": {"id": 1, "name": "Acme", "amount": 1000, "stage": "NEW"}}'
    )
    page.get_by_role("button", name="Dry run").click()
    verdict = page.locator(".dry-verdict")
    expect(verdict).to_have_attribute("data-conditions-met", "true")
    expect(page.locator("#dry-result tr[data-step=step_1]")).to_contain_text("Call about Acme")
    expect(page.locator("#dry-result tr[data-step=step_2]")).to_be_visible()
    shot(page, "editor-dry-run")

    # create: version 1, the detail page, the DAG in Airflow
    page.get_by_role("button", name="Create workflow").click()
    page.wait_for_url(re.compile(rf".*/automation/ui/workflows/{KEY}\?saved=1$"))
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("main h1")).to_have_text(NAME)  # escaped: the name shows as text
    both_widths(page, shot, "detail-saved")
    stored = airflow.client.get(f"/automation/api/v1/workflows/{KEY}").json()
    assert stored["definition"]["conditions"] == {"all": [{"field": "deal.amount", "op": ">", "value": 50000}]}
    assert [s["type"] for s in stored["definition"]["steps"]] == ["create_task", "send_notification"]
    notice = stored["definition"]["steps"][0]["notify"]["on_failure"]
    assert (notice["email"], notice["template"], notice["notification"]) == (["ops@example.com"], "step-failed", False)
    dag = wait_for(lambda: airflow.dag(f"automation__{KEY}"), 120, "the editor's DAG")
    assert dag["is_paused"] is False

    # edit into version 2: the diff against version 1 shows before saving
    page.get_by_role("link", name=f"Edit {KEY}").click()
    page.wait_for_url(re.compile(rf".*/workflows/{KEY}/edit$"))
    expect(page.get_by_label(re.compile(r"^Key\b"))).not_to_be_editable()
    both_widths(page, shot, "editor-edit")
    config(page, 0).get_by_label(re.compile(r"^Title\b")).fill("Call soon about {{ deal.name }}")
    step(page, 1).get_by_role("button", name="Move up step 2").click()  # reorder: the notification first
    expect(step(page, 0).get_by_label(re.compile(r"^Action\b"))).to_have_value("send_notification")
    settled(page)
    page.get_by_label("Comment for this version").fill("Sooner call, notify first")
    expect(page.get_by_role("button", name="Save version")).to_be_disabled()
    page.get_by_role("button", name="Review changes").click()
    diff = page.locator("#diff-result pre.diff")
    expect(diff.locator("span.add", has_text="Call soon about")).to_have_count(1)
    expect(diff.locator("span.del", has_text="Call about")).to_have_count(1)
    shot(page, "editor-diff")
    page.get_by_role("button", name="Save version").click()
    page.wait_for_url(re.compile(rf".*/workflows/{KEY}\?saved=2$"))
    expect(page.locator("#versions-h + .table-wrap")).to_contain_text("Sooner call, notify first")
    shot(page, "detail-version-2")
    stored = airflow.client.get(f"/automation/api/v1/workflows/{KEY}").json()
    assert stored["version"] == 2 and stored["definition"]["steps"][0]["type"] == "send_notification"

    # run now for a record id: the API's run route starts a manual run of the DAG for that deal
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO crm.deals (id, name, amount, stage) VALUES (41, 'Acme', 75000, 'NEW')"))
    run_form = page.locator("form#run-now")
    expect(run_form).to_have_attribute("data-run-url", f"/automation/api/v1/workflows/{KEY}/run")
    run_form.get_by_label("Record id").fill("41")
    run_form.get_by_role("button", name="Run now").click()
    expect(run_form.locator(".run-result")).to_contain_text("Started: execution ")
    assert airflow.runs(f"automation__{KEY}") == 1
    shot(page, "detail-run-now")

    # that run's execution page: the record it ran for, its timeline panel, the way back
    run_form.locator(".run-result").get_by_role("link", name=re.compile(r"^execution ")).click()
    page.wait_for_url(re.compile(rf".*/workflows/{KEY}/executions/manual__"))
    expect(page.locator("main h1")).to_contain_text("Execution manual__")
    expect(page.locator("section[aria-labelledby=event-h]")).to_contain_text("41")
    expect(page.locator("#timeline-h")).to_be_visible()
    both_widths(page, shot, "execution-record-run")
    page.go_back()

    # duplicate, deactivate, delete (after a confirmation page)
    page.get_by_role("link", name=f"Duplicate {KEY}").click()
    shot(page, "duplicate-form")
    page.get_by_label("Key of the copy").fill(f"{KEY}-copy")
    page.get_by_role("button", name="Duplicate").click()
    expect(page.locator("#done")).to_contain_text("copy")
    expect(page.locator("main h1")).to_have_text(f"{NAME} (copy)")
    page.get_by_role("link", name=f"Delete {KEY}-copy").click()
    shot(page, "delete-confirm")
    page.get_by_role("button", name=f"Delete {KEY}-copy").click()
    expect(page.locator("#done")).to_contain_text("Deleted")
    assert airflow.client.get(f"/automation/api/v1/workflows/{KEY}-copy").status_code == 404
    page.goto(f"{airflow.base}/automation/ui/workflows/{KEY}")
    page.get_by_role("button", name=f"Deactivate {KEY}").click()
    expect(page.locator("#done")).to_contain_text("Deactivated")
    page.goto(f"{airflow.base}/automation/ui/workflows")  # the list shows the name as text, nothing ran
    expect(page.locator(f"tr[data-key={KEY}]")).to_contain_text(NAME)
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    wait_for(lambda: (airflow.dag(f"automation__{KEY}") or {}).get("is_paused") is True, 60, "the paused DAG")
    assert errors == []


def test_the_editor_fits_a_phone_labels_every_input_and_logs_no_error(
    airflow: AirflowApi,
    browser: Browser,  # noqa: F811
) -> None:
    assert airflow.client.post("/automation/api/v1/workflows", json=workflow("editor-narrow")).status_code == 201
    page = new_page(browser, NARROW)
    path = "/automation/ui/workflows/editor-narrow/edit"
    sign_in_to(page, airflow.base, path)
    errors = collect_errors(page)
    page.reload()
    expect(page.locator("#ed-status")).to_have_text("No problems: the workflow can be saved.")
    page.locator("details.step-policy").first.evaluate("d => d.open = true")
    page.locator("#ed-settings details").evaluate("d => d.open = true")
    assert horizontal_overflow(page) <= 0
    shot(page, "editor-390")
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(el => el.labels.length === 0).map(el => el.id || el.outerHTML.slice(0, 80))"
    )
    assert unlabelled == []
    # the keyboard reaches the step buttons and the manual trigger's inputs editor
    page.get_by_label(re.compile(r"^Trigger type\b")).focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('[data-field]').getAttribute('data-field')").startswith(
        "trigger"
    )
    page.set_viewport_size(WIDE)
    shot(page, f"editor-{WIDE['width']}")
    assert errors == []


def _cookie_client(airflow: AirflowApi, username: str) -> httpx.Client:
    token = httpx.post(f"{airflow.base}/auth/token", json={"username": username, "password": username}).json()
    return httpx.Client(base_url=airflow.base, cookies={"_token": token["access_token"]}, timeout=60)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'data-csrf="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_a_viewer_sees_no_write_button_and_a_forged_post_is_refused(
    airflow: AirflowApi,
    browser: Browser,  # noqa: F811
) -> None:
    assert airflow.client.post("/automation/api/v1/workflows", json=workflow("editor-viewer")).status_code == 201
    page = new_page(browser, WIDE)
    sign_in_to(page, airflow.base, "/automation/ui/workflows/editor-viewer", "viewer")
    expect(page.locator("main h1")).to_have_text("Manual deal")
    for name in ("Edit", "Duplicate", "Delete", "Deactivate", "Run now", "Dry run"):
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Run editor-viewer now")).to_have_count(0)  # its inputs' form
    shot(page, "viewer-detail")
    page.goto(f"{airflow.base}/automation/ui/workflows")
    expect(page.get_by_role("link", name="New workflow")).to_have_count(0)
    shot(page, "viewer-list")

    admin, viewer = _cookie_client(airflow, "admin"), _cookie_client(airflow, "viewer")
    token = _csrf(admin.get("/automation/ui/workflows/editor-viewer").text)
    origin = {"Origin": airflow.base}
    definition = {**workflow("editor-viewer"), "name": "Forged"}
    forged = [
        viewer.post("/automation/ui/workflows/editor-viewer/deactivate", data={"csrf_token": token}, headers=origin),
        viewer.post("/automation/ui/workflows/editor-viewer/delete", data={"csrf_token": token}, headers=origin),
        viewer.post(
            "/automation/ui/workflows/editor-viewer/editor/save",
            json={"definition": definition},
            headers={**origin, "X-CSRF-Token": token},
        ),
        viewer.post(
            "/automation/ui/workflows/editor-viewer/run", data={"csrf_token": token, "input.name": "x"}, headers=origin
        ),
        viewer.get("/automation/ui/workflows/editor-viewer/run"),
        viewer.get("/automation/ui/workflows/editor-viewer/edit"),
        viewer.get("/automation/ui/editor/new"),
    ]
    assert [r.status_code for r in forged] == [403] * len(forged)
    # the admin too, without the page's token or from another site
    assert (
        admin.post(
            "/automation/ui/workflows/editor-viewer/editor/save", json={"definition": definition}, headers=origin
        ).status_code
        == 403
    )
    assert (
        admin.post(
            "/automation/ui/workflows/editor-viewer/deactivate",
            data={"csrf_token": token},
            headers={"Origin": "http://evil.example"},
        ).status_code
        == 403
    )
    stored = airflow.client.get("/automation/api/v1/workflows/editor-viewer").json()
    assert stored["name"] == "Manual deal" and stored["status"] == "ACTIVE" and stored["version"] == 1
    # with the token, from this site, the admin's save is a new version
    saved = admin.post(
        "/automation/ui/workflows/editor-viewer/editor/save",
        json={"definition": definition, "comment": "renamed"},
        headers={**origin, "X-CSRF-Token": token},
    ).json()
    assert saved["ok"] is True and saved["version"] == 2
    bad = admin.post(
        "/automation/ui/editor/check",
        json={"definition": {**definition, "steps": []}},
        headers={**origin, "X-CSRF-Token": token},
    ).json()
    assert bad["ok"] is False and [e["path"] for e in bad["errors"]] == ["steps"]


FAILING = {
    "key": "editor-failing",
    "name": "Failing call",
    "status": "ACTIVE",
    "trigger": {"type": "manual", "inputs": {"reason": {"type": "string", "required": True}}},
    "steps": [
        {"id": "note", "type": "send_notification", "config": {"title": "About to call"}},
        {
            "id": "call",
            "type": "http_request",
            "retries": 0,
            "config": {"url": "http://127.0.0.1:9/down", "method": "GET", "attempts": 1, "timeout": 5},
        },
        {"id": "after", "type": "send_notification", "config": {"title": "Called"}},
    ],
}


def test_an_execution_page_shows_the_timeline_and_errors_and_retries_failed_steps(
    airflow: AirflowApi,
    browser: Browser,  # noqa: F811
) -> None:
    assert airflow.client.post("/automation/api/v1/workflows", json=FAILING).status_code == 201
    dag_id = "automation__editor-failing"
    wait_for(lambda: airflow.dag(dag_id), 120, "the failing workflow's DAG")

    # Run now, with the manual trigger's inputs, from its page: the run's execution page opens
    page = new_page(browser, WIDE)
    sign_in_to(page, airflow.base, "/automation/ui/workflows/editor-failing")
    errors = collect_errors(page)
    page.reload()
    page.get_by_role("link", name="Run editor-failing now").click()
    page.get_by_label(re.compile(r"^reason\b")).fill("a browser test")
    both_widths(page, shot, "run-now-inputs")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r".*/executions/manual__[^/?]+\?done=started$"))
    expect(page.locator("#done")).to_contain_text("Started")
    run_id = unquote(page.url.split("/executions/")[1].split("?")[0])
    expect(page.locator("section[aria-labelledby=event-h]")).to_contain_text("a browser test")  # the inputs

    def state() -> str | None:
        found = airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
        return found if found in {"success", "failed"} else None

    assert wait_for(state, 300, "the failing run") == "failed"
    page.goto(f"{airflow.base}/automation/ui/workflows/editor-failing")
    expect(page.locator("#statistics [data-col=total]")).to_have_text("1")  # this workflow's own statistics
    page.get_by_role("link", name=f"Execution {run_id}").click()
    expect(page.locator("main h1")).to_contain_text(run_id)
    expect(page.locator("svg.timeline")).to_contain_text("call: failed")  # the timeline's bar of the step
    expect(page.locator("li[data-step=note] .badge")).to_have_text("success")
    expect(page.locator("li[data-step=call] .badge")).to_have_text("failed")
    expect(page.locator("li[data-step=call] .error-text").first).to_be_visible()
    expect(page.get_by_role("link", name="Log of call in Airflow")).to_have_attribute(
        "href", f"/dags/{dag_id}/runs/{run_id.replace(':', '%3A').replace('+', '%2B')}/tasks/call"
    )
    sent = page.locator("#notifications-sent tr[data-channel=in_app]")  # the run's own deliveries
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("About to call")
    both_widths(page, shot, "execution-failed")
    tab_to(page, page.get_by_role("button", name="Retry failed steps"))  # the keyboard reaches the actions
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_contain_text("cleared")

    def second_try_failed() -> bool:
        task = airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/call")
        return task["try_number"] == 2 and task["state"] == "failed"

    wait_for(second_try_failed, 300, "the retried step")  # the call fails again, on its second try
    page.reload()
    expect(page.locator("li[data-step=call]")).to_contain_text("2 attempts")
    # the timeline: the retried step's tries after its bar, each step's time in Airflow's queue (queued ->
    # started) drawn apart from its run, and the same in words for a screen reader
    expect(page.locator("svg.timeline g[data-step=call]")).to_contain_text("2 tries")
    expect(page.locator("svg.timeline g[data-step=note] rect.c-queued")).to_have_count(1)
    expect(page.locator(".timeline-text li[data-timeline-step=call]")).to_contain_text("failed, queued")
    shot(page, "execution-retried")

    # skip the failed step (a form post to the plugin's route): it is marked skipped in Airflow with the
    # default note and the user's name, and the step after it runs
    page.get_by_role("button", name="Skip call and go on").click()
    expect(page.locator("#done")).to_contain_text("marked skipped")
    assert wait_for(state, 300, "the run after the skip") == "success"
    task = airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/call")
    assert task["state"] == "skipped" and task["note"] == "Skipped from the automation execution page"
    page.reload()
    expect(page.locator("li[data-step=call] .badge")).to_have_text("skipped")
    expect(page.locator("li[data-step=after] .badge")).to_have_text("success")
    expect(page.locator("li[data-step=call] .skipped-by")).to_contain_text("Skipped by admin")  # the history
    shot(page, "execution-skipped")
    assert errors == []


def test_text_view_cron_preview_webhook_url_and_jsonlogic_mode(
    airflow: AirflowApi,
    browser: Browser,  # noqa: F811
) -> None:
    assert airflow.client.post("/automation/api/v1/workflows", json=workflow("editor-modes")).status_code == 201
    page = new_page(browser, WIDE)
    sign_in_to(page, airflow.base, "/automation/ui/workflows/editor-modes/edit")
    errors = collect_errors(page)
    page.reload()
    settled(page)

    # the text view drives the form: a new name typed as YAML shows in the Name input
    text_view = page.locator("#ed-text")
    expect(text_view).to_have_value(re.compile("^key: editor-modes", re.M))
    text_view.fill(text_view.input_value().replace("name: Manual deal", "name: Typed as YAML"))
    expect(page.get_by_label(re.compile(r"^Name\b"))).to_have_value("Typed as YAML")
    text_view.fill("key: [unclosed")
    expect(page.locator("#ed-text-status")).to_contain_text("not valid YAML or JSON (line 1")
    expect(page.get_by_label(re.compile(r"^Name\b"))).to_have_value("Typed as YAML")  # the form kept the last good one
    page.get_by_label("Format").select_option("json")
    expect(text_view).to_have_value(re.compile(r'^\{\n  "key": "editor-modes"'))

    # a schedule: the cron in words and its next 5 times, in the trigger's zone
    page.get_by_label(re.compile(r"^Trigger type\b")).select_option("schedule")
    page.get_by_label(re.compile(r"^Cron\b")).fill("0 9 * * 1-5")
    page.get_by_label(re.compile(r"^Timezone\b")).fill("Europe/Paris")
    preview = page.locator("[data-cron-for='trigger.cron']")
    expect(preview).to_contain_text("At 09:00, Monday through Friday")
    expect(preview.locator("time")).to_have_count(5)
    expect(preview.locator("time").first).to_have_attribute("datetime", re.compile(r"T09:00:00\+01:00$"))
    shot(page, "editor-schedule")

    # a webhook: the URL deliveries go to and the signing scheme's options
    page.get_by_label(re.compile(r"^Trigger type\b")).select_option("webhook")
    expect(page.locator("#ed-trigger code")).to_have_text(f"{airflow.base}/automation/webhooks/editor-modes")
    page.get_by_label("Scheme").select_option("hmac_header")
    expect(page.get_by_label(re.compile(r"^Algorithm\b"))).to_be_visible()
    shot(page, "editor-webhook")

    # a step's `when` as JSONLogic text
    page.get_by_label("Only when...").nth(1).check()  # the first step's (the workflow's is the first radio)
    kind = page.locator("[data-field='steps[0].when'] select").first
    kind.select_option("jsonlogic")
    logic = page.locator("[data-field='steps[0].when'] textarea")
    logic.fill('{">": [{"var": "params.name"}, ""]}')
    settled(page)
    expect(text_view).to_have_value(re.compile(r'"when": \{\s+"jsonlogic": \{\s+">": \['))
    shot(page, "editor-jsonlogic")
    assert errors == []
