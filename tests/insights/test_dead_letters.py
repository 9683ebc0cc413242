"""Executions across workflows, the failed view (the dead letters) and the bulk retry, over real
`dag.test()` runs on the test Postgres; the same through the API in-process, with Airflow's auth
(the tests' per-DAG auth manager: `crm-editor` changes only `crm-*` workflows' runs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from automation.errors import NotFoundError
from automation.insights.executions import (
    ExecutionFilter,
    failed_executions,
    retry_failed,
    search_executions,
)
from automation.store.db import engine
from tests.helpers import admin_api
from tests.insights.conftest import failing_workflow, guarded_workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")
API = "/api/v1/executions"


def deal_closer(key: str) -> dict[str, Any]:
    """A record-event workflow whose step fails for a deal: it updates a deal that does not exist."""
    return {
        "key": key, "name": "Close the deal's twin", "status": "ACTIVE",
        "trigger": {"type": "record_event", "entity": "deals", "events": ["updated"]},
        "settings": {"retries": 0},
        "steps": [{"id": "close_twin", "type": "update_record",
                   "config": {"collection": "deals", "id": "9{{ trigger.id }}000", "values": {"stage": "WON"}}}],
    }  # fmt: skip


def new_deal(name: str) -> int:
    with engine().begin() as conn:
        return int(
            conn.execute(text("INSERT INTO crm.deals (name) VALUES (:n) RETURNING id"), {"n": name}).scalar_one()
        )


def failed_runs(**filters: Any) -> list[str]:
    return [e.run_id for e in failed_executions(ExecutionFilter(**filters)).executions]


def test_lists_across_workflows_with_filters_and_the_failed_view_with_each_failed_step(create, run_workflow) -> None:
    create(guarded_workflow("dl-guarded"))
    create(failing_workflow("dl-closer"))
    create(deal_closer("dl-deals"))
    ok = run_workflow("dl-guarded", name="VIP one")
    skipped = run_workflow("dl-guarded", name="nobody")
    failed = run_workflow("dl-closer", deal_id=626262)
    deal = new_deal("Twin")
    for_record = run_workflow("dl-deals", entity_id=deal)  # a manual run for a record: its event is claimed
    assert (ok.state, skipped.state, failed.state, for_record.state) == ("success", "success", "failed", "failed")

    everything = search_executions(ExecutionFilter())
    assert everything.total == 4 and not everything.partial
    assert [e.run_id for e in everything.executions] == [r.run_id for r in (for_record, failed, skipped, ok)]
    assert {e.key for e in everything.executions} == {"dl-guarded", "dl-closer", "dl-deals"}
    assert search_executions(ExecutionFilter(status="skipped")).executions[0].run_id == skipped.run_id
    assert search_executions(ExecutionFilter(status="success")).total == 1
    assert search_executions(ExecutionFilter(keys=["dl-guarded"], status="failed")).total == 0
    page = search_executions(ExecutionFilter(), limit=2, offset=1)
    assert page.total == 4 and [e.run_id for e in page.executions] == [failed.run_id, skipped.run_id]
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert search_executions(ExecutionFilter(since=later)).total == 0
    assert search_executions(ExecutionFilter(until=later.replace(tzinfo=None))).total == 4  # naive = UTC

    # by the trigger event: its entity, record id or ledger id
    by_entity = search_executions(ExecutionFilter(entity="deals"))
    assert [e.run_id for e in by_entity.executions] == [for_record.run_id]
    event_id = by_entity.executions[0].event["event_id"]
    assert search_executions(ExecutionFilter(entity="deals", entity_id=str(deal))).total == 1
    assert search_executions(ExecutionFilter(entity="deals", entity_id=str(deal + 1))).total == 0
    assert search_executions(ExecutionFilter(event_id=event_id)).executions[0].run_id == for_record.run_id
    assert search_executions(ExecutionFilter(event_id=event_id, keys=["dl-closer"])).total == 0
    assert search_executions(ExecutionFilter(entity="organisations")).total == 0

    # the failed view: each failed run with the steps that failed and why
    dead = {e.run_id: e for e in failed_executions(ExecutionFilter()).executions}
    assert set(dead) == {failed.run_id, for_record.run_id}
    [step] = dead[failed.run_id].failed_steps
    assert (step.step_id, step.state) == ("close_missing", "failed") and "626262" in step.error and step.error_class
    assert [s.step_id for s in dead[for_record.run_id].failed_steps] == ["close_twin"]
    assert failed_runs(entity="deals") == [for_record.run_id]

    with pytest.raises(ValueError, match="^since: "):
        search_executions(ExecutionFilter(since=later, until=later - timedelta(days=1)))
    with pytest.raises(NotFoundError) as unknown:
        search_executions(ExecutionFilter(keys=["dl-nope"]))
    assert unknown.value.path == "workflow"  # type: ignore[attr-defined]


def test_bulk_retry_clears_only_the_failed_steps_and_says_what_happened_per_run(create, run_workflow) -> None:
    create(failing_workflow("dl-retry"))
    create(failing_workflow("dl-other"))
    create(guarded_workflow("dl-fine"))
    first = run_workflow("dl-retry", deal_id=737373)
    other = run_workflow("dl-other", deal_id=737374)
    fine = run_workflow("dl-fine", name="VIP")

    selection = [("dl-retry", first.run_id), ("dl-other", other.run_id), ("dl-fine", fine.run_id),
                 ("dl-retry", first.run_id), ("dl-retry", "manual__nope"), ("dl-gone", "manual__x")]  # fmt: skip
    results = retry_failed(selection, allowed={"dl-retry", "dl-fine", "dl-gone"})
    assert [(r.key, r.outcome) for r in results] == [
        ("dl-retry", "retried"), ("dl-other", "not_allowed"), ("dl-fine", "not_failed"),
        ("dl-retry", "not_found"), ("dl-gone", "not_found"),
    ]  # fmt: skip
    assert results[0].steps == ["close_missing"]  # the step before it (`note`) succeeded: not run again

    # the retried run left the failed view (Airflow queued it again); the one not allowed stays
    assert failed_runs() == [other.run_id]
    detail = search_executions(ExecutionFilter(keys=["dl-retry"])).executions[0]
    assert detail.status == "queued"
    again = retry_failed([("dl-retry", first.run_id)], allowed={"dl-retry"})
    assert again[0].outcome == "not_failed" and "queued" in again[0].message
    with pytest.raises(ValueError, match="^runs: at most 100"):
        retry_failed([("dl-retry", f"r{n}") for n in range(101)], allowed={"dl-retry"})


# -- the API, in-process with Airflow's auth --------------------------------------------------------


def token(name: str, role: str) -> dict[str, str]:
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    jwt = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username=name, role=role))
    return {"Authorization": f"Bearer {jwt}"}


@pytest.fixture
def api() -> Iterator[TestClient]:
    with admin_api() as client:
        yield client


def paths(response: Any) -> list[str]:
    return [e["path"] for e in response.json().get("errors") or []]


def test_the_api_lists_retries_per_dag_and_refuses_bad_input_at_its_field(api: TestClient, create,
                                                                          run_workflow) -> None:  # fmt: skip
    create(failing_workflow("crm-dl"))
    create(failing_workflow("ops-dl"))
    crm = run_workflow("crm-dl", deal_id=848484)
    ops = run_workflow("ops-dl", deal_id=848485)

    listed = api.get(API, params={"status": "failed", "workflow": ["crm-dl", "ops-dl"]})
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 2 and listed.json()["partial"] is False
    failed = api.get(f"{API}/failed").json()
    assert {e["run_id"] for e in failed["executions"]} == {crm.run_id, ops.run_id}
    assert failed["executions"][0]["failed_steps"][0]["step_id"] == "close_missing"
    sales = api.get(f"{API}/failed", headers=token("sales", "viewer")).json()  # reads crm-* DAGs only
    assert [e["key"] for e in sales["executions"]] == ["crm-dl"]

    # a viewer changes nothing; crm-editor retries the crm workflow's run only
    body = {"runs": [{"key": "crm-dl", "run_id": crm.run_id}, {"key": "ops-dl", "run_id": ops.run_id}]}
    assert api.post(f"{API}/retry", json=body, headers=token("viewer", "viewer")).status_code == 403
    only_ops = {"runs": [{"key": "ops-dl", "run_id": ops.run_id}]}
    assert api.post(f"{API}/retry", json=only_ops, headers=token("crm-editor", "user")).status_code == 403
    retried = api.post(f"{API}/retry", json=body, headers=token("crm-editor", "user"))
    assert retried.status_code == 200, retried.text
    assert [r["outcome"] for r in retried.json()["results"]] == ["retried", "not_allowed"]
    assert retried.json()["retried"] == 1
    assert [e["run_id"] for e in api.get(f"{API}/failed").json()["executions"]] == [ops.run_id]

    # every input bounded, refused at its field
    cases = [
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"status": "done"}, "status"),
        ({"limit": 501}, "limit"),
        ({"event_id": 0}, "event_id"),
        ({"entity": "x" * 64}, "entity"),
        ({"workflow": ["w"] * 101}, "workflow"),
        ({"entity": "a\x00b"}, "entity"),
        ({"since": "0001-01-01T00:00:00+14:00"}, "since"),  # no such moment in UTC
    ]
    for params, field in cases:
        response = api.get(API, params=params)
        assert response.status_code == 422 and paths(response) == [field], (params, response.text)
    unknown = api.get(f"{API}/failed", params={"workflow": "nope"})
    assert unknown.status_code == 404 and paths(unknown) == ["workflow"]
    too_many = {"runs": [{"key": "crm-dl", "run_id": f"r{n}"} for n in range(101)]}
    assert paths(api.post(f"{API}/retry", json=too_many)) == ["runs"]
    assert api.post(f"{API}/retry", json={"runs": []}).status_code == 422
    assert paths(api.post(f"{API}/retry", json={"runs": [{"key": "crm-dl"}]})) == ["runs[0].run_id"]
    odd = {"runs": [{"key": "crm-dl", "run_id": "\x00"}, {"key": "no\x00pe", "run_id": "r"}]}
    assert paths(api.post(f"{API}/retry", json=odd)) == ["runs[0].run_id", "runs[1].key"]
