"""A draft's dry run through the services (the editor's and `POST /workflows/dry-run`): validated first,
its problems answered at their paths, nothing stored; and `PUT /workflows/{key}?comment=...` keeps the
body the definition while the new version gets its comment."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from automation.errors import DefinitionError
from automation.services import dry_run
from automation.services.errors import RequestError, outcome

DRAFT = {
    "key": "api-draft",
    "name": "Big deals",
    "status": "ACTIVE",
    "trigger": {"type": "record_event", "entity": "deals", "events": ["updated"]},
    "conditions": {"all": [{"field": "deal.amount", "op": ">", "value": 50000}]},
    "steps": [{"id": "call", "type": "create_task", "config": {"title": "Call about {{ deal.name }}"}}],
}
EVENT = {"id": 1, "new": {"id": 1, "name": "Acme", "amount": 75000}, "old": {"id": 1, "name": "Acme", "amount": 10}}


def test_a_draft_that_is_not_a_definition_or_an_event_that_is_not_an_object_is_refused_at_its_path() -> None:
    with pytest.raises(RequestError) as not_a_definition:
        dry_run.dry_run_definition(["a", "list"], EVENT)
    assert [i.path for i in outcome(not_a_definition.value).issues] == ["definition"]
    with pytest.raises(RequestError) as not_an_event:
        dry_run.dry_run_definition(DRAFT, [1])
    assert outcome(not_an_event.value).status == 422 and not_an_event.value.issues[0].path == "event"
    broken = copy.deepcopy(DRAFT)
    broken["steps"][0]["config"] = {}
    with pytest.raises(DefinitionError) as invalid:
        dry_run.dry_run_definition(broken, EVENT)
    assert [i.path for i in outcome(invalid.value).issues] == ["steps[0].config.title"]


@pytest.fixture
def client(db: None, airflow_db: None) -> Iterator[TestClient]:
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from automation.api.app import create_app

    token = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


def test_the_api_dry_runs_a_draft_without_storing_it(client: TestClient) -> None:
    answer = client.post("/api/v1/workflows/dry-run", json={"definition": DRAFT, "event": EVENT})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["conditions_met"] is True and report["version"] == 1
    assert report["steps"][0]["config"]["title"] == "Call about Acme"
    small = {**EVENT, "new": {**EVENT["new"], "amount": 100}}
    assert (
        client.post("/api/v1/workflows/dry-run", json={"definition": DRAFT, "event": small}).json()["conditions_met"]
        is False
    )
    assert client.get("/api/v1/workflows/api-draft").status_code == 404  # nothing was stored

    broken = copy.deepcopy(DRAFT)
    broken["steps"][0]["config"] = {}
    refused = client.post("/api/v1/workflows/dry-run", json={"definition": broken, "event": EVENT})
    assert refused.status_code == 422 and [e["path"] for e in refused.json()["errors"]] == ["steps[0].config.title"]
    unknown = client.post("/api/v1/workflows/dry-run", json={"definition": DRAFT, "event": EVENT, "mocks": {"x": 1}})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["path"] == "mocks.x"
    assert client.post("/api/v1/workflows/dry-run", json={"event": EVENT}).status_code == 422  # no definition


def test_put_takes_an_optional_version_comment(client: TestClient) -> None:
    assert client.post("/api/v1/workflows", json={**DRAFT, "status": "DRAFT"}).status_code == 201
    changed = {**DRAFT, "status": "DRAFT", "name": "Bigger deals"}
    assert client.put("/api/v1/workflows/api-draft", params={"comment": "renamed"}, json=changed).status_code == 200
    assert client.put("/api/v1/workflows/api-draft", json={**changed, "name": "Biggest"}).status_code == 200
    versions = client.get("/api/v1/workflows/api-draft/versions").json()["versions"]
    assert [(v["version"], v["comment"]) for v in versions][-2:] == [(2, "renamed"), (3, None)]
    too_long = client.put("/api/v1/workflows/api-draft", params={"comment": "x" * 501}, json=changed)
    assert too_long.status_code == 422 and "comment" in too_long.text
    assert client.get("/api/v1/workflows/api-draft").json()["version"] == 3
