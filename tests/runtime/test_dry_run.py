from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from automation.cli.main import main
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")

SIGNED = workflow(
    "signed",
    trigger={"type": "record_event", "entity": "deals", "events": ["updated"], "fields": ["stage"]},
    conditions={
        "all": [{"field": "deal.stage", "op": "==", "value": "SIGNED"}, {"field": "deal.stage", "op": "changed"}]
    },
    steps=[
        {
            "id": "task",
            "type": "create_task",
            "config": {"title": "Welcome call {{ trigger.new.name }}", "due": "+3 days"},
        },
        {"id": "mail", "type": "send_email", "config": {"to": "client@acme.test", "subject": "Welcome", "body": "Hi"}},
        {"id": "hook", "type": "http_request", "config": {"url": "https://crm.example.com/hook"}},
        {
            "id": "note",
            "type": "add_note",
            "config": {"entity": "tasks", "entity_id": "{{ steps.task.output.id }}", "body": "created by automation"},
        },
        {"id": "pause", "type": "wait", "config": {"delay": "1d"}},
    ],
)


def count(table: str) -> int:
    with engine().connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def event_file(tmp_path: Path, stage: str) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"id": 7, "new": {"id": 7, "name": "ACME", "stage": stage},
                                "old": {"id": 7, "name": "ACME", "stage": "PROPOSITION"}}))  # fmt: skip
    return str(path)


def test_dry_run_shows_the_plan_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Repository().create(validate_definition(SIGNED))
    assert main(["dry-run", "signed", "--event", event_file(tmp_path, "SIGNED"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["conditions_met"] is True
    plans = {p["step"]: p for p in report["steps"]}
    assert plans["task"]["status"] == "would_run" and plans["task"]["output"]["title"] == "Welcome call ACME"
    assert plans["mail"]["status"] == "planned" and "client@acme.test" in plans["mail"]["detail"]
    assert plans["hook"]["status"] == "planned" and "https://crm.example.com/hook" in plans["hook"]["detail"]
    assert plans["note"]["output"]["entity_id"] == plans["task"]["output"]["id"]
    assert plans["pause"]["status"] == "planned" and "would wait until" in plans["pause"]["detail"]
    assert count("crm.tasks") == 0 and count("crm.activities") == 0 and count("automation.effects") == 0


def test_dry_run_with_false_conditions_skips_everything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Repository().create(validate_definition(SIGNED))
    assert main(["dry-run", "signed", "--event", event_file(tmp_path, "LOST")]) == 0
    out = capsys.readouterr().out
    assert "conditions NOT met" in out and out.count("skipped") == 5


def test_expand_loads_related_records_for_templates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO crm.organisations (name, owner_id) VALUES ('ACME Corp', 3)"))
    data = workflow(
        "expanded",
        trigger={"type": "record_event", "entity": "deals", "events": ["created"]},
        settings={"expand": ["owner", "organisation.owner"]},
        steps=[{"id": "note", "type": "add_note", "config": {"entity": "deals", "entity_id": 1, "body":
                "{{ entity.owner.email }} / {{ entity.organisation.name }} / {{ entity.organisation.owner.name }}"}}],
    )  # fmt: skip
    Repository().create(validate_definition(data))
    event = tmp_path / "e.json"
    event.write_text(json.dumps({"id": 1, "new": {"id": 1, "name": "D", "owner_id": 1, "organisation_id": 1}}))
    assert main(["dry-run", "expanded", "--event", str(event), "--json"]) == 0
    (plan,) = json.loads(capsys.readouterr().out)["steps"]
    assert plan["output"]["body"] == "alice@example.com / ACME Corp / Carla Manager"
