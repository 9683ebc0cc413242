"""The editor's server side: the data its forms are built from, the cron preview, the text view's
parser, a draft's problems with their paths, and its JSON calls (session, origin and CSRF checks;
problems answered as data at their paths, not as HTTP errors)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from automation.actions.registry import action_names
from automation.definitions.operators import OPERATORS
from automation.pages import cron, editor
from automation.templating.notification_templates import template_names
from tests.helpers import workflow

RECORD_WORKFLOW = {
    "key": "editor-unit",
    "name": "Big deals",
    "status": "DRAFT",
    "trigger": {"type": "record_event", "entity": "deals", "events": ["updated"]},
    "conditions": {"all": [{"field": "deal.amount", "op": ">", "value": 50000}]},
    "steps": [{"id": "call", "type": "create_task", "config": {"title": "Call about {{ deal.name }}"}}],
}


def test_every_action_has_its_schema_for_a_generated_form() -> None:
    data = editor.bootstrap(editor.NEW_DEFINITION, key=None, version=None, webhook_base="http://x/automation/webhooks/")
    actions = data["schema"]["$defs"]["actions"]
    assert sorted(actions) == action_names()
    assert actions["send_email"]["properties"]["to"]  # a config model's own schema, not a hand-written form
    assert {"record_event", "schedule", "inactivity", "webhook", "manual", "poll"} <= set(
        data["schema"]["properties"]["trigger"]["discriminator"]["mapping"]
    )
    assert sorted(data["statuses"]) == ["ACTIVE", "DRAFT", "INACTIVE"]


def test_the_step_notice_forms_offer_the_named_notification_templates() -> None:
    """A notice's `template` (and only a template name, not every key with the same pattern) lists the
    files of include/templates/notifications as suggestions; the validated schema is not changed."""
    data = editor.bootstrap(editor.NEW_DEFINITION, key=None, version=None, webhook_base="http://x/automation/webhooks/")
    defs = data["schema"]["$defs"]
    assert defs["StepNotice"]["properties"]["template"]["examples"] == template_names()
    assert {"step-failed", "step-started"} <= set(template_names())
    assert "examples" not in data["schema"]["properties"]["key"]
    assert "examples" not in defs["actions"]["trigger_workflow"]["properties"]["workflow"]
    assert "examples" not in editor.schema()["$defs"]["StepNotice"]["properties"]["template"]
    notify = defs["Step"]["properties"]["notify"]  # on_start/on_success/on_retry/on_failure, from the schema
    assert set(defs["StepNotifications"]["properties"]) == {"on_start", "on_success", "on_retry", "on_failure"}
    assert notify["anyOf"][0] == {"$ref": "#/$defs/StepNotifications"}


def test_the_operator_list_is_the_operator_table() -> None:
    listed = editor.operators()
    assert [o["name"] for o in listed] == list(OPERATORS)
    by_name = {o["name"]: o for o in listed}
    assert by_name["in"]["words"] == "is one of" and by_name["changed"]["unary"] is True
    assert by_name[">"]["values"] == OPERATORS[">"].values


def test_the_field_picker_offers_the_records_names_old_values_and_related_columns() -> None:
    deals = editor.registry_data()["deals"]
    fields = {f["path"]: f for f in deals["fields"]}
    assert fields["deal.amount"]["type"] == "number"
    assert fields["old.stage"]["type"] == "string" and "new.amount" in fields
    assert "deals.amount" not in fields  # one name per record: the singular
    assert fields["lookup:users.team"] == {"path": "lookup:users.team", "type": "string", "relation": "owner"}
    assert deals["relations"]["owner"] == {"collection": "users", "column": "owner_id"}
    assert deals["columns"]["stage"] == "string"


def test_a_drafts_problems_have_the_paths_the_page_shows_them_at() -> None:
    assert editor.check(RECORD_WORKFLOW) == []
    broken = json.loads(json.dumps(RECORD_WORKFLOW))
    broken["steps"][0]["config"] = {}
    assert [(i.path, i.message) for i in editor.check(broken)] == [
        ("steps[0].config.title", "required field is missing")
    ]
    assert [i.path for i in editor.check({"key": "x"})] == ["name", "trigger", "steps"]
    assert [i.path for i in editor.check(["not", "a", "mapping"])] == [""]


def test_the_text_view_reads_yaml_or_json_and_says_where_it_does_not_parse() -> None:
    assert editor.from_text(editor.as_text(RECORD_WORKFLOW)) == (RECORD_WORKFLOW, [])
    assert editor.from_text(json.dumps(RECORD_WORKFLOW))[0] == RECORD_WORKFLOW
    assert list(editor.as_text(RECORD_WORKFLOW).splitlines()[:2]) == ["key: editor-unit", "name: Big deals"]
    _, issues = editor.from_text("key: x\nsteps: [1")
    assert issues[0].path == "text" and "line 2" in issues[0].message
    _, issues = editor.from_text("- a list")
    assert issues[0].path == "text" and "mapping" in issues[0].message
    _, issues = editor.from_text("a: &x [*x]")  # an alias into itself: refused by the bounded loader
    assert issues[0].path == "text"


def test_a_cron_expression_in_words_with_its_next_five_times_in_its_zone() -> None:
    found = cron.preview("0 9 * * 1-5", "Europe/Paris", now=datetime(2026, 12, 4, 12, 0, tzinfo=UTC))  # a Friday
    assert found.error is None
    assert found.description == "At 09:00, Monday through Friday"
    assert found.next == [
        "2026-12-07T09:00:00+01:00",
        "2026-12-08T09:00:00+01:00",
        "2026-12-09T09:00:00+01:00",
        "2026-12-10T09:00:00+01:00",
        "2026-12-11T09:00:00+01:00",
    ]
    assert cron.preview("61 * * * *").error is not None
    assert (
        cron.preview("0 9 * * *", "Mars/Olympus").error
        == 'expected an IANA timezone name such as "UTC" or "Europe/Paris"'
    )


# --- the JSON calls, in-process (Airflow's auth manager, the UI's session cookie) -----------------------


@pytest.fixture
def ui(db: None, airflow_db: None) -> Iterator[tuple[TestClient, str]]:
    """A browser-like client (the session cookie, this site's Origin) and a CSRF token of its user."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from automation.api.app import create_app

    token = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    with TestClient(create_app(), raise_server_exceptions=False, base_url="http://testserver") as client:
        client.cookies.set("_token", token)
        client.headers["Origin"] = "http://testserver"
        page = client.get("/ui/editor/new")
        assert page.status_code == 200, page.text
        match = re.search(r'data-csrf="([^"]+)"', page.text)
        assert match
        yield client, match.group(1)


def test_the_editor_page_embeds_its_data_escaped(ui: tuple[TestClient, str]) -> None:
    client, _ = ui
    client.post("/api/v1/workflows", json={**workflow("editor-escape"), "name": "</script><b>x</b>"})
    page = client.get("/ui/workflows/editor-escape/edit")
    assert page.status_code == 200
    assert "</script><b>" not in page.text  # tojson escapes <, > and & inside the data block
    data = json.loads(re.search(r'<script type="application/json" id="editor-data">(.*?)</script>', page.text, re.S)[1])
    assert data["definition"]["name"] == "</script><b>x</b>" and data["key"] == "editor-escape"


def test_calls_need_the_pages_token_and_answer_problems_at_their_paths(ui: tuple[TestClient, str]) -> None:
    client, token = ui
    csrf = {"X-CSRF-Token": token}
    assert client.post("/ui/editor/check", json={"definition": RECORD_WORKFLOW}).status_code == 403
    assert (
        client.post(
            "/ui/editor/check", json={"definition": RECORD_WORKFLOW}, headers={"X-CSRF-Token": "1.x"}
        ).status_code
        == 403
    )
    other_site = {**csrf, "Origin": "http://evil.example"}
    assert client.post("/ui/editor/check", json={"definition": RECORD_WORKFLOW}, headers=other_site).status_code == 403

    ok = client.post("/ui/editor/check", json={"definition": RECORD_WORKFLOW}, headers=csrf).json()
    assert ok["ok"] is True and ok["errors"] == [] and ok["text"].startswith("key: editor-unit\n")
    broken = {**RECORD_WORKFLOW, "trigger": {"type": "record_event", "entity": "nope", "events": ["updated"]}}
    bad = client.post("/ui/editor/check", json={"definition": broken}, headers=csrf)
    assert bad.status_code == 200 and bad.json()["ok"] is False
    assert "conditions.all[0].field" in [e["path"] for e in bad.json()["errors"]]  # `deal` is no name of `nope`

    parsed = client.post("/ui/editor/parse", json={"text": "key: [1"}, headers=csrf).json()
    assert parsed["ok"] is False and parsed["errors"][0]["path"] == "text"
    preview = client.post("/ui/editor/cron", json={"cron": "*/15 * * * *", "timezone": "UTC"}, headers=csrf).json()
    assert preview["description"] == "Every 15 minutes" and len(preview["next"]) == 5
    not_json = client.post("/ui/editor/check", content=b"{nope", headers={**csrf, "Content-Type": "application/json"})
    assert not_json.status_code == 400 and "Traceback" not in not_json.text


def test_create_then_save_a_new_version_with_a_comment_and_the_diff_before(ui: tuple[TestClient, str]) -> None:
    client, token = ui
    csrf = {"X-CSRF-Token": token}
    created = client.post("/ui/editor/create", json={"definition": RECORD_WORKFLOW}, headers=csrf).json()
    assert created == {"ok": True, "key": "editor-unit", "version": 1, "url": "/ui/workflows/editor-unit?saved=1"}
    again = client.post("/ui/editor/create", json={"definition": RECORD_WORKFLOW}, headers=csrf).json()
    assert (
        again["ok"] is False
        and again["errors"][0]["path"] == "key"
        and "already exists" in again["errors"][0]["message"]
    )

    changed = json.loads(json.dumps(RECORD_WORKFLOW))
    changed["conditions"]["all"][0]["value"] = 80000
    diff = client.post("/ui/workflows/editor-unit/editor/diff", json={"definition": changed}, headers=csrf).json()
    assert diff["ok"] is True and diff["version"] == 1
    assert "\n-    value: 50000\n+    value: 80000\n" in diff["diff"]
    same = client.post(
        "/ui/workflows/editor-unit/editor/diff", json={"definition": RECORD_WORKFLOW}, headers=csrf
    ).json()
    assert same["diff"] == ""

    saved = client.post(
        "/ui/workflows/editor-unit/editor/save", json={"definition": changed, "comment": "higher bar"}, headers=csrf
    ).json()
    assert saved["ok"] is True and saved["version"] == 2
    versions = client.get("/api/v1/workflows/editor-unit/versions").json()["versions"]
    assert versions[-1]["comment"] == "higher bar" and versions[-1]["created_by"] == "ui:admin"
    too_long = client.post(
        "/ui/workflows/editor-unit/editor/save", json={"definition": changed, "comment": "x" * 501}, headers=csrf
    )
    assert too_long.status_code == 400
    missing = client.post("/ui/workflows/nope/editor/save", json={"definition": changed}, headers=csrf)
    assert missing.status_code == 404


def test_a_draft_dry_run_reports_the_gate_and_each_step_without_saving(ui: tuple[TestClient, str]) -> None:
    client, token = ui
    csrf = {"X-CSRF-Token": token}
    event = {"id": 1, "new": {"id": 1, "name": "Acme", "amount": 75000}, "old": {"id": 1, "name": "Acme", "amount": 10}}
    answer = client.post(
        "/ui/editor/dry-run", json={"definition": RECORD_WORKFLOW, "event": event}, headers=csrf
    ).json()
    assert answer["ok"] is True, answer
    report = answer["report"]
    assert report["conditions_met"] is True
    assert report["steps"][0]["step"] == "call" and report["steps"][0]["config"]["title"] == "Call about Acme"
    small = {**event, "new": {**event["new"], "amount": 100}}
    answer = client.post(
        "/ui/editor/dry-run", json={"definition": RECORD_WORKFLOW, "event": small}, headers=csrf
    ).json()
    assert answer["report"]["conditions_met"] is False
    bad = client.post("/ui/editor/dry-run", json={"definition": RECORD_WORKFLOW, "event": [1]}, headers=csrf).json()
    assert bad["ok"] is False and [e["path"] for e in bad["errors"]] == ["event"]
    assert client.get("/api/v1/workflows/editor-unit").status_code == 404  # nothing was stored
