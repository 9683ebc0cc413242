from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from automation.catalogue.templates import (
    get_template,
    list_templates,
    render_template,
    templates_dir,
)
from automation.errors import ConflictError, DefinitionError, NotFoundError
from automation.runtime.dry_run import dry_run
from automation.services.templates import create_workflow
from automation.store.db import engine
from automation.store.repository import Repository


def issues(exc: pytest.ExceptionInfo[DefinitionError]) -> dict[str, str]:
    return {i.path: i.message for i in exc.value.issues}


def test_catalogue_lists_every_file_sorted_with_summaries() -> None:
    templates = list_templates()
    files = sorted(p.stem for p in templates_dir().glob("*.yaml"))
    assert sorted(t.id for t in templates) == files and len(files) >= 5
    assert [(t.category, t.name) for t in templates] == sorted((t.category, t.name) for t in templates)
    assert len({t.category for t in templates}) >= 3
    signed = get_template("new-client-onboarding")
    assert signed.trigger == "deals updated (stage)" and signed.trigger_type == "record_event"
    assert next(s.summary for s in signed.steps if s.id == "send_documents") == "task 'Send documents', due +1 days"
    assert signed.definition["steps"][2]["config"]["due"] == "+<< documents_days >> days"  # as in the file
    assert [t.id for t in list_templates("leads")] == ["new-lead-round-robin"]
    assert {t.id for t in list_templates("crm")} == {
        "inactive-deal-follow-up", "new-client-onboarding", "large-organisation-alert", "lead-assignment"}  # fmt: skip
    assert get_template("inactive-deal-follow-up").trigger == "deals with no activity for 30 days"


@pytest.mark.parametrize("template_id", sorted(p.stem for p in templates_dir().glob("*.yaml")))
def test_every_template_validates_with_its_defaults(template_id: str) -> None:
    workflow = render_template(template_id, {}, key=f"t-{template_id}")
    assert workflow.key == f"t-{template_id}" and workflow.status.value == "ACTIVE"
    assert "<<" not in yaml.safe_dump(workflow.model_dump(mode="json"))


def test_parameters_keep_their_types_and_runtime_jinja_is_untouched() -> None:
    workflow = render_template(
        "inactive-deal-follow-up", {"days": "45", "stages": "PROPOSITION, QUALIFICATION, NEGOTIATION"}, key="idle"
    )
    assert workflow.trigger.days == 45  # an integer parameter stays an integer (a form's "45" too)
    assert workflow.trigger.filter.value == ["PROPOSITION", "QUALIFICATION", "NEGOTIATION"]
    assert workflow.steps[1].config["description"] == "{{ trigger.new.name }} has had no activity for 45 days"
    robin = render_template("new-lead-round-robin", {"sales_reps": [2, 3]}, key="robin")
    assert robin.steps[0].config["round_robin"] == [2, 3]


def test_parameter_errors_name_the_parameter_and_what_was_expected() -> None:
    with pytest.raises(DefinitionError) as exc:
        render_template(
            "large-deal-alert",
            {"threshold": "lots", "manager_email": "not-an-email", "level": "panic", "colour": "red"},
            key="alert",
        )
    found = issues(exc)
    assert found["parameters.threshold"] == "expected a number, got 'lots'"
    assert found["parameters.manager_email"].startswith("expected an email address")
    assert found["parameters.level"] == "expected one of ['info', 'success', 'warning', 'error'], got 'panic'"
    assert found["parameters.colour"].startswith("unknown parameter; expected one of")
    with pytest.raises(DefinitionError) as exc:
        render_template("inactive-deal-follow-up", {"days": 0, "task_title": ""}, key="s")
    assert issues(exc) == {
        "parameters.days": "expected at least 1, got 0",
        "parameters.task_title": "required: expected a string",
    }


def test_a_bad_value_caught_by_definition_validation_is_blamed_on_its_parameter() -> None:
    with pytest.raises(DefinitionError) as exc:
        render_template("nightly-overdue-tasks", {"cron": "every night"}, key="nightly")
    (path, message), *_ = issues(exc).items()
    assert path == "parameters.cron" and "cron expression" in message and "(at trigger.cron)" in message
    with pytest.raises(DefinitionError) as exc:
        render_template("nightly-overdue-tasks", {}, key="Not A Key")
    assert list(issues(exc)) == ["key"]
    with pytest.raises(NotFoundError):
        get_template("../../etc/passwd")


@pytest.mark.usefixtures("db")
def test_create_from_template_stores_a_workflow_and_conflicts_on_its_key() -> None:
    stored = create_workflow("new-client-onboarding", {"welcome_call_days": 4}, key="onboard", created_by="me")
    assert stored.version == 1 and stored.status == "ACTIVE" and stored.name == "New client onboarding"
    assert stored.definition["steps"][1]["config"]["due"] == "+4 days"
    with pytest.raises(ConflictError):
        create_workflow("new-client-onboarding", {}, key="onboard")
    draft = create_workflow("new-client-onboarding", {}, key="onboard-2", name="Mine", status="DRAFT")
    assert (draft.name, draft.status) == ("Mine", "DRAFT")


@pytest.mark.usefixtures("db")
def test_onboarding_template_does_what_it_says_in_a_dry_run() -> None:
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO crm.contacts (name, email) VALUES ('Zoe Client', 'zoe@client.test')"))
        conn.execute(
            text("INSERT INTO crm.deals (name, stage, owner_id, contact_id) VALUES ('ACME renewal', 'SIGNED', 2, 1)")
        )
    workflow = render_template("new-client-onboarding", {"welcome_call_days": 5}, key="onboard")
    deal = {"id": 1, "name": "ACME renewal", "stage": "SIGNED", "owner_id": 2, "contact_id": 1, "amount": 9}
    report = dry_run(workflow, 1, {"id": 1, "new": deal, "old": {**deal, "stage": "PROPOSITION"}})
    assert report.conditions_met and report.error is None
    plans = {p.step: p for p in report.steps}
    assert plans["welcome_call"].output["title"] == "Welcome call"
    assert (plans["welcome_call"].output["assignee_id"], plans["welcome_call"].output["contact_id"]) == (2, 1)
    assert plans["send_documents"].config["due"] == "+1 days"
    assert plans["welcome_email"].status == "planned" and "zoe@client.test" in plans["welcome_email"].detail
    assert "within 5 days" in plans["welcome_email"].config["body"]
    assert "Bob Durand will" in plans["welcome_email"].config["body"]
    assert (plans["tell_manager"].config["recipient"], plans["tell_manager"].config["level"]) == (
        "carla@example.com", "success")  # fmt: skip
    from_qualification = dry_run(workflow, 1, {"id": 1, "new": deal, "old": {**deal, "stage": "QUALIFICATION"}})
    assert not from_qualification.conditions_met
    assert {p.status for p in from_qualification.steps} == {"skipped"}


@pytest.mark.usefixtures("db")
def test_large_deal_alert_fires_only_when_crossing_the_threshold() -> None:
    workflow = render_template("large-deal-alert", {"threshold": 10000}, key="large")
    deal = {"id": 1, "name": "Big", "amount": 12000, "stage": "QUALIFICATION", "owner_id": 1}
    assert dry_run(workflow, 1, {"id": 1, "new": deal}).conditions_met  # created large
    assert dry_run(workflow, 1, {"id": 1, "new": deal, "old": {**deal, "amount": 500}}).conditions_met
    assert not dry_run(workflow, 1, {"id": 1, "new": deal, "old": {**deal, "amount": 11000}}).conditions_met
    assert not dry_run(workflow, 1, {"id": 1, "new": {**deal, "amount": 900}}).conditions_met
    assert Repository().list_workflows() == []  # rendering stores nothing


@pytest.mark.usefixtures("db")
def test_large_organisation_alert_needs_a_potential_over_the_threshold() -> None:
    workflow = render_template("large-organisation-alert", {"threshold": 10000}, key="large-org")
    org = {"id": 1, "name": "Globex", "potential_amount": 10001}
    assert dry_run(workflow, 1, {"id": 1, "new": org}).conditions_met
    assert not dry_run(workflow, 1, {"id": 1, "new": {**org, "potential_amount": 10000}}).conditions_met
    unknown = dry_run(workflow, 1, {"id": 1, "new": {**org, "potential_amount": None}})
    assert not unknown.conditions_met and unknown.error is None  # no potential is no alert, not an error


@pytest.mark.usefixtures("db")
def test_lead_assignment_emails_the_user_it_assigned() -> None:
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO crm.contacts (name, email) VALUES ('Zoe Lead', 'zoe@lead.test')"))
    workflow = render_template("lead-assignment", {"team": "2, 3"}, key="leads")
    report = dry_run(workflow, 1, {"id": 1, "new": {"id": 1, "name": "Zoe Lead", "email": "zoe@lead.test"}})
    plans = {p.step: p for p in report.steps}
    assert report.error is None and plans["assign"].output["user_id"] == 2
    assert plans["email_owner"].config["to"] == "bob@example.com"
    assert plans["email_owner"].config["body"].startswith("Hello Bob Durand,")
    owned = dry_run(workflow, 1, {"id": 1, "new": {"id": 1, "name": "Zoe Lead", "owner_id": 1}})
    assert not owned.conditions_met


def test_a_broken_template_file_is_left_out_of_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "templates" / "workflows"
    folder.mkdir(parents=True)
    good = templates_dir() / "large-deal-alert.yaml"
    (folder / "good.yaml").write_text(good.read_text())
    (folder / "broken.yaml").write_text("template: {name: x}\nworkflow: [\n")
    monkeypatch.setenv("AUTOMATION_INCLUDE_DIR", str(tmp_path))
    assert [t.id for t in list_templates()] == ["good"]
    with pytest.raises(DefinitionError, match="not valid YAML"):
        get_template("broken")


SAMPLE_RECORDS = {
    "deals": {"id": 1, "name": "ACME renewal", "amount": 90000, "stage": "PROPOSITION", "owner_id": 2, "contact_id": 1},
    "contacts": {"id": 1, "name": "Zoe Client", "email": "zoe@client.test"},
    "organisations": {"id": 1, "name": "Globex", "potential_amount": 90000},
}
SAMPLE_INPUTS = {  # the events (manual inputs, webhook bodies, no-code items) the other templates react to
    "publish-pipeline": {"params": {"project_id": "web-shop", "environment": "production"}},
    "record-rules": {"id": 1, "new": {"id": 1, "reference": "ORD-2026-001", "due_date": "2026-01-05T00:00:00+00:00",
                                      "status": "OPEN"}},
    "issue-reactions": {"new": {"action": "opened", "issue": {"number": 7, "title": "Crash", "url": "https://x.test/7",
                                                              "author": "zoe"}}},
}  # fmt: skip


@pytest.mark.usefixtures("db")
@pytest.mark.parametrize("template_id", sorted(p.stem for p in templates_dir().glob("*.yaml")))
def test_every_template_runs_cleanly_in_a_dry_run(template_id: str) -> None:
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO crm.contacts (name, email) VALUES ('Zoe Client', 'zoe@client.test')"))
        conn.execute(
            text("INSERT INTO crm.deals (name, amount, owner_id, contact_id) VALUES ('ACME renewal', 90000, 2, 1)")
        )
        conn.execute(text("INSERT INTO crm.orders (id, reference, due_date) VALUES (1, 'ORD-2026-001', '2026-01-05') "
                          "ON CONFLICT (id) DO NOTHING"))  # fmt: skip
    workflow = render_template(template_id, {}, key="sample")
    entity = getattr(workflow.trigger, "entity", None)
    event = {"id": 1, "new": SAMPLE_RECORDS[entity]} if entity in SAMPLE_RECORDS else {}
    won_stage = {"new-client-onboarding": "SIGNED", "erp-sync-step-alerts": "WON"}.get(template_id)
    if won_stage:
        event = {"id": 1, "new": {**event["new"], "stage": won_stage}, "old": event["new"]}
    report = dry_run(workflow, 1, SAMPLE_INPUTS.get(template_id, event))
    assert report.conditions_met and report.error is None, report
    assert all(p.status in {"would_run", "planned"} for p in report.steps), report.steps
