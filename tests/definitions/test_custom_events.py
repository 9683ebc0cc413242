"""A record_event trigger takes custom event names and a list of entities: each (entity, event) pair is
one Airflow asset the DAG is scheduled on, and the gate takes exactly those pairs."""

from __future__ import annotations

from typing import Any

import pytest

from automation.definitions import Workflow
from automation.definitions.triggers import describe_trigger
from automation.errors import DefinitionError
from automation.factory.build import build_dag
from automation.runtime.event_gate import subscription_refusal
from automation.validation import validate_definition


def workflow(**trigger: Any) -> Workflow:
    return Workflow.model_validate({
        "key": "projects-published", "name": "Projects published", "status": "ACTIVE",
        "trigger": {"type": "record_event", **trigger},
        "steps": [{"id": "log", "type": "add_note",
                   "config": {"entity": "{{ trigger.entity }}", "entity_id": 1, "body": "{{ trigger.event }}"}}],
    })  # fmt: skip


def asset_uris(dag: Any) -> list[str]:
    condition = dag.timetable.asset_condition
    return sorted(a.uri for a in getattr(condition, "objects", [condition]))


def test_custom_events_and_several_entities_make_one_asset_per_pair() -> None:
    custom = workflow(entity="projects", events=["published", "component_added"])
    assert asset_uris(build_dag(custom, 1)) == [
        "automation://projects/component_added",
        "automation://projects/published",
    ]

    several = workflow(entity=["orders", "invoices"], events=["created", "paid"])
    assert several.trigger.entities == ["orders", "invoices"]
    assert asset_uris(build_dag(several, 1)) == [
        "automation://invoices/created", "automation://invoices/paid",
        "automation://orders/created", "automation://orders/paid",
    ]  # fmt: skip
    assert describe_trigger(several.trigger.model_dump()) == "orders, invoices created/paid"


def test_the_gate_takes_the_listed_entities_and_events_only() -> None:
    several = workflow(entity=["orders", "invoices"], events=["created", "paid"])
    assert subscription_refusal(several, {"entity": "invoices", "event": "paid"}) is None
    assert subscription_refusal(several, {"entity": "orders", "event": "created"}) is None
    assert subscription_refusal(several, {"entity": "deals", "event": "paid"}) == (
        "the workflow is triggered by orders, invoices events, not deals"
    )
    assert subscription_refusal(several, {"entity": "orders", "event": "deleted"}) == (
        "the workflow subscribes to orders, invoices created/paid, not deleted"
    )


@pytest.mark.parametrize(
    ("trigger", "path"),
    [
        ({"entity": "projects", "events": ["Published"]}, "trigger.events[0]"),
        ({"entity": "projects", "events": ["pub/lished"]}, "trigger.events[0]"),
        ({"entity": "projects", "events": ["x" * 64]}, "trigger.events[0]"),
        ({"entity": "projects", "events": []}, "trigger.events"),
        ({"entity": "projects", "events": [f"e{i}" for i in range(21)]}, "trigger.events"),
        ({"entity": [], "events": ["created"]}, "trigger.entity"),
        ({"entity": ["orders", "Bad!"], "events": ["created"]}, "trigger.entity[1]"),
        ({"entity": ["t"] * 21, "events": ["created"]}, "trigger.entity"),
        ({"entity": 3, "events": ["created"]}, "trigger.entity"),
    ],
)
def test_bad_names_and_lists_are_refused_with_their_path(trigger: dict[str, Any], path: str) -> None:
    definition = {"key": "k", "name": "k", "trigger": {"type": "record_event", **trigger},
                  "steps": [{"id": "a", "type": "add_note", "config": {"entity": "deals", "entity_id": 1, "body": "x"}}]}  # fmt: skip
    with pytest.raises(DefinitionError) as caught:
        validate_definition(definition)
    assert [issue.path for issue in caught.value.issues] == [path]
