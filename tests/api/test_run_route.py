"""`POST /workflows/{key}/run` refusals, in-process as Airflow's admin: each before Airflow is asked
for a run, with the status and the request field it is about (the runs themselves: tests/e2e/
test_run_for_record.py, against a real Airflow)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import admin_api, workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")

ON_DEALS = {"type": "record_event", "entity": ["deals", "orders"], "events": ["updated", "published"]}


@pytest.fixture
def api() -> Iterator[TestClient]:
    with admin_api() as client:
        yield client


def store(key: str, **overrides: Any) -> None:
    Repository().create(validate_definition(workflow(key, **overrides)))


def errors(response: Any) -> list[dict[str, str]]:
    return list(response.json().get("errors") or [])


def test_a_run_is_refused_with_the_field_it_is_about(api: TestClient) -> None:
    store("on-deals", trigger=ON_DEALS)
    run = "/api/v1/workflows/on-deals/run"
    with engine().begin() as conn:
        deal = conn.execute(text("INSERT INTO crm.deals (name) VALUES ('x') RETURNING id")).scalar_one()

    missing = api.post(run, json={"entity_id": deal + 1000})
    assert missing.status_code == 404, missing.text
    assert errors(missing) == [{"path": "entity_id", "message": f"deals record {deal + 1000} does not exist"}]

    cases = [
        ({"entity_id": "forty-two"}, "entity_id", "deals ids (id) are integers, not 'forty-two'"),
        ({"entity_id": deal, "event": "deleted"}, "event", "the workflow subscribes to deals, orders updated/published, not deleted"),
        ({"entity_id": deal, "entity": "tasks"}, "entity", "the workflow is triggered by deals, orders events, not tasks"),
        ({"entity_id": deal, "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({}, "entity_id", "Field required"),
        ({"entity_id": deal, "new": {"notes": "x" * (262_144 - 20)}}, "new",  # one byte over, as JSON
         "new and old are 262145 bytes, over [automation] max_event_bytes (262144)"),
    ]  # fmt: skip
    for body, path, message in cases:
        response = api.post(run, json=body)
        assert response.status_code == 422, (body, response.text)
        assert [(e["path"], e["message"]) for e in errors(response)] == [(path, message)], body

    assert api.post("/api/v1/workflows/nope/run", json={"entity_id": deal}).status_code == 404
    store("by-hand")  # a manual workflow has no record to run for
    by_hand = api.post("/api/v1/workflows/by-hand/run", json={"entity_id": deal})
    assert by_hand.status_code == 422
    assert errors(by_hand)[0]["path"] == "entity_id" and "only a record_event workflow" in errors(by_hand)[0]["message"]
    store("drafted", trigger=ON_DEALS, status="DRAFT")
    drafted = api.post("/api/v1/workflows/drafted/run", json={"entity_id": deal})
    assert drafted.status_code == 409 and "is DRAFT: only an ACTIVE workflow runs" in drafted.json()["detail"]
