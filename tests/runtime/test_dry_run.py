from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from automation.cli.main import main
from automation.definitions import Workflow
from automation.errors import DefinitionError, Issue, TemplateError
from automation.runtime.dry_run import dry_run_report, isolated_dry_run
from automation.runtime.isolated import run_isolated
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


# -- the API's dry run: in a worker process with CPU, memory and time limits ----------------------

EVENT = {"id": 7, "new": {"id": 7, "name": "ACME", "stage": "SIGNED"}, "old": {"id": 7, "name": "ACME", "stage": "X"}}
#: two equal trees of 4**15 leaves, distinct objects: `==` walks every leaf (minutes of CPU), no size limit applies
CPU_BOMB = (
    "{% set a = (trigger.new.id, 1) %}{% set b = (trigger.new.id + 0, 1) %}"
    + "{% set a = (a, a, a, a) %}{% set b = (b, b, b, b) %}" * 15
    + "{{ a == b }}"
)


def with_title(key: str, title: str) -> Workflow:
    steps = [{"id": "task", "type": "create_task", "config": {"title": title}},
             {"id": "mail", "type": "send_email", "config": {"to": "a@b.test", "subject": "s", "body": "b"}}]  # fmt: skip
    return validate_definition(workflow(key, trigger={"type": "record_event", "entity": "deals",
                                                      "events": ["updated"]}, steps=steps))  # fmt: skip


def test_the_isolated_dry_run_gives_the_same_report_and_changes_nothing() -> None:
    signed = validate_definition(SIGNED)
    report = isolated_dry_run(signed, 1, EVENT)
    assert report["conditions_met"] is True and report["error"] is None
    plans = {p["step"]: p for p in report["steps"]}
    assert plans["task"]["status"] == "would_run" and plans["task"]["output"]["title"] == "Welcome call ACME"
    assert plans["note"]["output"]["entity_id"] == plans["task"]["output"]["id"]
    in_process = dry_run_report(signed, 1, EVENT)
    for plan in (*report["steps"], *in_process["steps"]):  # ids and due dates differ between the two runs
        plan.pop("output", None), plan.pop("config", None), plan.pop("detail", None)
    assert report == in_process
    assert count("crm.tasks") == 0 and count("crm.activities") == 0 and count("automation.effects") == 0


def test_a_huge_repetition_is_a_step_error_naming_the_path_and_the_limit() -> None:
    report = isolated_dry_run(with_title("huge", "{{ 'a' * 10**9 }}"), 1, EVENT)
    task, mail = report["steps"]
    assert task["status"] == "error" and "steps.task.config.title" in task["detail"]
    assert "would make more than 1,000,000 characters" in task["detail"] and mail["status"] == "not_reached"
    in_process = dry_run_report(with_title("huge", "{{ 'a' * 10**9 }}"), 1, EVENT)  # as a task renders it
    assert in_process["steps"][0]["detail"] == task["detail"]


def test_nested_loops_are_a_step_error_naming_the_limit() -> None:
    loops = "{% for i in range(10000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    (task, _mail) = isolated_dry_run(with_title("loops", loops), 1, EVENT)["steps"]
    assert "steps.task.config.title" in task["detail"] and "more than 100,000 loop iterations" in task["detail"]


def test_a_template_past_the_cpu_limit_stops_its_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_TEMPLATE_CPU_SECONDS", "1")
    with pytest.raises(TemplateError, match=r"more than 1 s of CPU time \(\[automation\] template_cpu_seconds\)"):
        isolated_dry_run(with_title("cpu", CPU_BOMB), 1, EVENT)
    assert isolated_dry_run(with_title("fine", "{{ trigger.new.name }}"), 1, EVENT)["steps"][0]["status"] == "would_run"


def allocate_gigabytes() -> int:
    return len(bytearray(4 * 2**30))


def sleep_long() -> None:
    time.sleep(120)


def refuse_definition() -> None:
    raise DefinitionError([Issue("steps[0].config", "expected a string")], "k v1")


def fail_plainly() -> None:
    raise LookupError("no such row")


def environment_value() -> str | None:
    return os.environ.get("AUTOMATION_TEST_MARK")


def test_the_worker_stops_at_its_memory_and_time_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_TEMPLATE_WALL_SECONDS", "2")
    with pytest.raises(TemplateError, match=r"more than 512 MB of memory \(\[automation\] template_memory_mb\)"):
        run_isolated(allocate_gigabytes)
    with pytest.raises(TemplateError, match=r"longer than 2 s \(\[automation\] template_wall_seconds\)"):
        run_isolated(sleep_long)


def test_the_worker_sees_the_current_environment_and_its_errors_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_TEST_MARK", "now")
    assert run_isolated(environment_value) == "now"
    assert run_isolated(environment_value, env={"AUTOMATION_TEST_MARK": "given"}) == "given"
    with pytest.raises(DefinitionError) as caught:
        run_isolated(refuse_definition)
    assert caught.value.issues == [Issue("steps[0].config", "expected a string")] and caught.value.source == "k v1"
    with pytest.raises(LookupError, match="no such row"):  # as in this process (the app's handlers apply)
        run_isolated(fail_plainly)
