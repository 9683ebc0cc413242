"""Custom event and list-entity triggers run from the events API: events posted to the plugin's API
(Starlette's TestClient over `create_app()`, an Airflow JWT) on the session's real Postgres are stored in
the ledger, routed by the asset their (entity, event) pair is emitted on, taken by the event gate and
rendered with the record's names, the way a run reads them. A record event name that is not a plain
identifier is a 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from automation.api.app import create_app
from automation.conditions import evaluate
from automation.events.emitter import asset_uri
from automation.factory.build import build_dag
from automation.runtime import event_gate
from automation.runtime.context import condition_data, template_context
from automation.runtime.event_gate import decide, event_trigger
from automation.store.ledger import EventLedger
from automation.store.repository import Repository
from automation.templating.sandbox import render_value
from automation.validation import validate_definition

pytestmark = pytest.mark.usefixtures("db", "airflow_db")

BILLING = {
    "key": "billing-paid", "name": "Billing paid", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": ["orders", "invoices"], "events": ["paid", "created"],
                "alias": "document"},
    "conditions": {"field": "document.total", "op": ">", "value": 100},
    "steps": [{"id": "note", "type": "add_note", "config": {
        "entity": "{{ trigger.entity }}", "entity_id": "{{ trigger.id }}",
        "body": "{{ trigger.entity }} {{ document.reference }} {{ trigger.event }}"}}],
}  # fmt: skip
PUBLISHED = {
    "key": "project-published", "name": "Project published", "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "projects", "events": ["published", "component_added"]},
    "steps": [{"id": "note", "type": "add_note", "config": {
        "entity": "projects", "entity_id": "{{ trigger.id }}", "body": "{{ project.title }} {{ trigger.event }}"}}],
}  # fmt: skip


@pytest.fixture
def api() -> Iterator[TestClient]:
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    event_gate._event.cache_clear()  # ledger ids restart with each test's clean store
    token = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def scheduled_on(workflow: Any) -> set[str]:
    condition = build_dag(workflow, 1).timetable.asset_condition
    return {a.uri for a in getattr(condition, "objects", [condition])}


def run_for(workflow: Any, event_id: int, run_id: str = "run-1") -> tuple[str, str | None]:
    """What a run started by ledger event `event_id` does: the gate's outcome and, when its conditions
    hold, the note its step writes."""
    trigger = event_trigger(workflow, str(event_id))
    decision = decide(workflow, trigger, f"{run_id}-{event_id}", EventLedger())
    if not decision.run:
        return decision.outcome, None
    context = template_context(workflow, 1, trigger)
    if not evaluate(workflow.conditions, condition_data(workflow, context)):
        return "conditions_false", None
    return decision.outcome, render_value(workflow.steps[0].config["body"], context)


def test_custom_event_and_list_entity_triggers_run_from_the_events_api(api: TestClient) -> None:
    billing, published = validate_definition(BILLING), validate_definition(PUBLISHED)
    for workflow in (billing, published):
        Repository().create(workflow)
    events = [
        {"entity": "invoices", "event": "paid", "id": 5, "new": {"reference": "INV-5", "total": 250}},
        {"entity": "orders", "event": "created", "id": 6, "new": {"reference": "ORD-6", "total": 120}},
        {"entity": "orders", "event": "paid", "id": 7, "new": {"reference": "ORD-7", "total": 20}},
        {"entity": "projects", "event": "published", "id": 8, "new": {"title": "Bridge"}},
        {"entity": "projects", "event": "component_added", "id": 8, "new": {"title": "Bridge"}},
    ]
    response = api.post("/api/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text
    ids = [r["id"] for r in response.json()]
    single = api.post("/api/v1/events", json={"entity": "invoices", "event": "created", "id": 9,
                                              "new": {"reference": "INV-9", "total": 900}})  # fmt: skip
    assert single.status_code == 201, single.text

    # each event reaches the workflows scheduled on its asset, and those run it
    assert scheduled_on(billing) == {asset_uri(e, v) for e in ("orders", "invoices") for v in ("paid", "created")}
    assert scheduled_on(published) == {asset_uri("projects", "published"), asset_uri("projects", "component_added")}
    for event in events:
        assert (asset_uri(event["entity"], event["event"]) in scheduled_on(billing)) == (event["entity"] != "projects")
    assert run_for(billing, ids[0]) == ("pending", "invoices INV-5 paid")
    assert run_for(billing, ids[1]) == ("pending", "orders ORD-6 created")
    assert run_for(billing, ids[2]) == ("conditions_false", None)  # total 20: the alias reads the record
    assert run_for(billing, single.json()["id"]) == ("pending", "invoices INV-9 created")
    assert run_for(published, ids[3]) == ("pending", "Bridge published")
    assert run_for(published, ids[4]) == ("pending", "Bridge component_added")
    # a routed event of another entity is refused by the gate, and each event runs once per workflow
    assert run_for(billing, ids[3]) == ("not_subscribed", None)
    assert run_for(published, ids[3], run_id="run-2") == ("duplicate", None)


@pytest.mark.parametrize(
    ("event", "path"),
    [
        ({"entity": "projects", "event": "Published"}, "event"),
        ({"entity": "projects", "event": "published.v2"}, "event"),
        ({"entity": "projects", "event": "pub-lished"}, "event"),
        ({"entity": "projects", "event": "1published"}, "event"),
        ({"entity": "projects", "event": "p" * 64}, "event"),
        ({"entity": "Projects", "event": "published"}, "entity"),
    ],
)
def test_an_event_name_that_is_not_a_plain_identifier_is_a_422_at_its_path(
    api: TestClient, event: dict[str, Any], path: str
) -> None:
    response = api.post("/api/v1/events", json=event)
    assert response.status_code == 422, response.text
    assert [e["path"] for e in response.json()["errors"]] == [path]
    batch = api.post("/api/v1/events/batch", json={"events": [{"entity": "projects", "event": "published"}, event]})
    assert batch.status_code == 422 and [e["path"] for e in batch.json()["errors"]] == [f"events[1].{path}"]
