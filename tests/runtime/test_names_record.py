"""The trigger's record under its singular name or an alias, and expanded relations at the top level:
the same names in templates, conditions, `when` and the static check (definitions.triggers.record_names),
with the related records loaded from the session's real Postgres."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import text

from automation.conditions import evaluate
from automation.definitions import Condition
from automation.definitions.triggers import record_names, singular
from automation.errors import DefinitionError
from automation.runtime.context import condition_data, template_context
from automation.runtime.expand import expand_trigger
from automation.store.db import engine
from automation.templating.sandbox import render_value
from automation.validation import validate_definition

pytestmark = pytest.mark.usefixtures("db")


def definition(trigger: dict[str, Any], body: str, **extra: Any) -> dict[str, Any]:
    return {"key": "names", "name": "names", "status": "ACTIVE", "trigger": {"type": "record_event", **trigger},
            "steps": [{"id": "note", "type": "add_note", "config": {"entity": "deals", "entity_id": 1, "body": body}}],
            **extra}  # fmt: skip


def problems(data: dict[str, Any]) -> dict[str, str]:
    try:
        validate_definition(data)
    except DefinitionError as exc:
        return {issue.path: issue.message for issue in exc.issues}
    return {}


def test_the_singular_rule_and_a_name_it_would_take_from_the_run() -> None:
    names = ("deals", "organisations", "companies", "address", "data")
    assert [singular(n) for n in names] == ["deal", "organisation", "company", "address", "data"]
    news = validate_definition(definition({"entity": "news", "events": ["created"]}, "{{ news.title }}"))
    assert record_names(news.trigger) == {"news": None}  # `new` is the run's own name: not taken


def test_a_deal_workflow_reads_deal_and_the_expanded_organisation_in_templates_and_conditions() -> None:
    with engine().begin() as conn:
        conn.execute(text("INSERT INTO crm.organisations (name, owner_id) VALUES ('ACME Corp', 3)"))
    body = "{{ deal.name }} / {{ organisation.name }} / {{ organisation.owner.name }} / {{ deals.amount }}"
    workflow = validate_definition(definition(
        {"entity": "deals", "events": ["updated"]}, body,
        settings={"expand": ["organisation.owner"]},
        conditions={"all": [{"field": "organisation.name", "op": "==", "value": "ACME Corp"},
                            {"field": "deal.amount", "op": "changed"}]},
    ))  # fmt: skip
    assert record_names(workflow.trigger, workflow.settings.expand) == {
        "deals": None,
        "deal": None,
        "organisation": "organisation",
    }
    new = {"id": 1, "name": "Renewal", "amount": 900, "organisation_id": 1}
    trigger = expand_trigger(workflow, {"type": "record_event", "entity": "deals", "event": "updated", "id": 1,
                                        "new": new, "old": {**new, "amount": 500}})  # fmt: skip
    context = template_context(workflow, 1, trigger)
    assert render_value(body, context) == "Renewal / ACME Corp / Carla Manager / 900"
    assert evaluate(workflow.conditions, condition_data(workflow, context))
    unchanged = template_context(workflow, 1, {**trigger, "old": trigger["new"]})
    assert not evaluate(workflow.conditions, condition_data(workflow, unchanged))
    when = TypeAdapter(Condition).validate_python({"field": "organisation.name", "op": "==", "value": "Other"})
    assert not evaluate(when, condition_data(workflow, context), "note.when")


def test_the_static_check_sees_the_same_names() -> None:
    assert problems(definition({"entity": "deals", "events": ["created"]}, "{{ deal.x }} {{ organisation.x }}",
                               settings={"expand": ["organisation"]})) == {}  # fmt: skip
    unexpanded = problems(definition({"entity": "deals", "events": ["created"]}, "{{ organisation.nom }}"))
    assert unexpanded["steps[0].config.body"].startswith("unknown name 'organisation'; available here: ")
    assert unexpanded["steps[0].config.body"].endswith("now, deals, deal")
    several = {"entity": ["orders", "invoices"], "events": ["paid"]}
    assert "unknown name 'order'" in problems(definition(several, "{{ order.x }}"))["steps[0].config.body"]
    aliased = {**several, "alias": "document"}
    assert problems(definition(aliased, "{{ document.reference }}",
                               conditions={"field": "document.total", "op": ">", "value": 1})) == {}  # fmt: skip
    assert "unknown name 'orders'" in problems(definition(aliased, "{{ orders.x }}"))["steps[0].config.body"]


def test_an_alias_says_what_the_record_is_called_and_never_hides_a_run_name() -> None:
    workflow = validate_definition(definition({"entity": "people", "events": ["created"], "alias": "person"},
                                              "{{ person.name }}"))  # fmt: skip
    context = template_context(workflow, 1, {"type": "record_event", "new": {"name": "Ada"}})
    assert render_value("{{ person.name }}", context) == "Ada"
    assert "people" not in context  # an explicit alias replaces the derived names
    for reserved in ("steps", "trigger", "now", "new"):
        found = problems(definition({"entity": "deals", "events": ["created"], "alias": reserved}, "x"))
        assert list(found) == ["trigger.alias"] and "a name every run already has" in found["trigger.alias"]


def test_a_dry_run_of_a_list_entity_workflow_uses_the_events_entity_and_the_alias() -> None:
    from automation.runtime.dry_run import dry_run

    workflow = validate_definition(definition(
        {"entity": ["orders", "invoices"], "events": ["paid"], "alias": "document"},
        "{{ trigger.entity }} {{ document.reference }}",
        conditions={"field": "document.total", "op": ">", "value": 100},
    ))  # fmt: skip
    report = dry_run(workflow, 1, {"entity": "invoices", "id": 5, "new": {"reference": "INV-5", "total": 250}})
    assert report.would_run and report.conditions_met, report
    assert report.steps[0].output["body"] == "invoices INV-5"
    other = dry_run(workflow, 1, {"entity": "deals", "id": 5, "new": {"reference": "D", "total": 250}})
    assert not other.would_run and "orders, invoices" in (other.reason or ""), other
