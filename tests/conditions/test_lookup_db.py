"""Lookups against the session's Postgres and the demo CRM: the record store's reader, a missing record,
the cap, the dry run's report of what was read, and a gate decided by a lookup in a real DAG run."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import text

from automation.conditions import ConditionData, LookupRead, StoreReader, evaluate
from automation.definitions import Condition
from automation.errors import ConditionError
from automation.factory.build import build_dag
from automation.records.registry import CollectionsRegistry
from automation.runtime.dry_run import dry_run_report
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import admin_api, workflow

pytestmark = pytest.mark.usefixtures("db")
parse = TypeAdapter(Condition).validate_python
TEAM = {"field": "lookup:users.team", "via": "new.owner_id", "op": "==", "value": "management"}


def user_id(email: str) -> int:
    with engine().connect() as conn:
        return conn.execute(text("SELECT id FROM crm.users WHERE email = :e"), {"e": email}).scalar_one()


class CountingReader:
    """The record store's reader, with its reads counted (what reaches the database)."""

    def __init__(self) -> None:
        self.inner = StoreReader()
        self.reads: list[tuple[str, Any]] = []

    @property
    def registry(self) -> CollectionsRegistry:
        return self.inner.registry

    def read(self, collection: str, record_id: Any) -> Mapping[str, Any] | None:
        self.reads.append((collection, record_id))
        return self.inner.read(collection, record_id)


def on_store(new: dict[str, Any], reader: Any = None) -> ConditionData:
    return ConditionData(values={"new": new}, reader=reader or StoreReader())


def test_a_clause_reads_the_related_user_from_postgres() -> None:
    carla, alice = user_id("carla@example.com"), user_id("alice@example.com")
    assert evaluate(parse(TEAM), on_store({"owner_id": carla})) is True
    assert evaluate(parse(TEAM), on_store({"owner_id": alice})) is False
    assert evaluate(parse(TEAM), on_store({"owner_id": str(carla)})) is True  # digits, as a webhook sends them


def test_jsonlogic_reads_numbers_and_dates_as_an_event_carries_them() -> None:
    owner = user_id("bob@example.com")
    with engine().begin() as conn:
        org = conn.execute(text("INSERT INTO crm.organisations (name, potential_amount, owner_id) "
                                "VALUES ('ACME', 90000.50, :o) RETURNING id"), {"o": owner}).scalar_one()  # fmt: skip
    seen: list[LookupRead] = []
    logic = {"jsonlogic": {"and": [
        {">": [{"lookup": ["organisations", {"var": "new.organisation_id"}, "potential_amount"]}, 50000]},
        {"before": [{"lookup": ["organisations", {"var": "new.organisation_id"}, "created_at"]}, "now"]},
    ]}}  # fmt: skip
    assert evaluate(parse(logic), on_store({"organisation_id": org}), seen=seen) is True
    assert seen[0].value == 90000.5 and isinstance(seen[1].value, str) and seen[1].value[:4].isdigit()


def test_a_missing_record_reads_null() -> None:
    reader = CountingReader()
    assert evaluate(parse({**TEAM, "op": "is_empty"}), on_store({"owner_id": 987654}, reader)) is True
    assert evaluate(parse(TEAM), on_store({"owner_id": 987654}, reader)) is False
    assert reader.reads == [("users", 987654), ("users", 987654)]


def test_an_id_the_primary_key_cannot_hold_is_refused_before_the_database() -> None:
    reader = CountingReader()
    with pytest.raises(ConditionError, match=r"the users id must be an integer .*got 'abc'"):
        evaluate(parse(TEAM), on_store({"owner_id": "abc"}, reader))
    assert reader.reads == []


def test_the_cap_stops_the_evaluation_before_the_extra_read(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [user_id(e) for e in ("alice@example.com", "bob@example.com", "carla@example.com")]
    any_manager = {"any": [{**TEAM, "via": f"new.u{i}"} for i in range(3)]}
    reader = CountingReader()
    monkeypatch.setenv("AIRFLOW__AUTOMATION__MAX_CONDITION_LOOKUPS", "2")
    with pytest.raises(ConditionError, match=r"conditions.any\[2\] .*lookup 3 of this evaluation, over the limit "
                                             r"of 2 \(\[automation\] max_condition_lookups\)"):  # fmt: skip
        evaluate(parse(any_manager), on_store({f"u{i}": v for i, v in enumerate(ids)}, reader))
    assert len(reader.reads) == 2
    monkeypatch.setenv("AIRFLOW__AUTOMATION__MAX_CONDITION_LOOKUPS", "3")
    assert evaluate(parse(any_manager), on_store({f"u{i}": v for i, v in enumerate(ids)}, reader)) is True


def on_deals(conditions: dict[str, Any]) -> Any:
    trigger = {"type": "record_event", "entity": "deals", "events": ["created", "updated"]}
    note = {"id": "note", "type": "create_record",
            "config": {"collection": "activities", "values": {"body": "hi", "entity": "deals", "entity_id": 1}}}  # fmt: skip
    return validate_definition(workflow("lookup-gate", trigger=trigger, steps=[note], conditions=conditions))


def test_the_dry_run_shows_what_the_conditions_looked_up() -> None:
    carla, alice = user_id("carla@example.com"), user_id("alice@example.com")
    wf = on_deals({**TEAM, "via": "deal.owner_id"})
    yes = dry_run_report(wf, 1, {"event": "created", "new": {"id": 1, "name": "ACME", "owner_id": carla}})
    assert yes["would_run"] is True
    assert yes["lookups"] == [{"collection": "users", "id": carla, "column": "team", "value": "management",
                               "found": True}]  # fmt: skip
    no = dry_run_report(wf, 1, {"event": "created", "new": {"id": 1, "name": "ACME", "owner_id": alice}})
    assert no["would_run"] is False and no["reason"] == "conditions_false: the conditions are false"
    assert no["lookups"][0]["value"] == "sales"
    missing = dry_run_report(wf, 1, {"event": "created", "new": {"id": 1, "name": "ACME", "owner_id": 987654}})
    assert missing["would_run"] is False
    assert missing["lookups"] == [{"collection": "users", "id": 987654, "column": "team", "value": None,
                                   "found": False}]  # fmt: skip


def test_the_dry_run_reports_the_cap_as_a_conditions_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__MAX_CONDITION_LOOKUPS", "1")
    wf = on_deals({"all": [{**TEAM, "op": "is_not_empty", "value": None},
                           {**TEAM, "op": "is_not_empty", "value": None, "via": "deal.contact_id"}]})  # fmt: skip
    alice = user_id("alice@example.com")
    result = dry_run_report(wf, 1, {"event": "created", "new": {"id": 1, "owner_id": alice, "contact_id": 5}})
    assert result["would_run"] is False and "over the limit of 1" in result["error"]
    assert [r["id"] for r in result["lookups"]] == [alice]


@pytest.mark.usefixtures("airflow_db")
def test_a_real_gate_decides_by_a_lookup() -> None:
    """The generated DAG's conditions task (the real gate code, in `dag.test()`) reads the owner's team."""
    data = workflow("manager-deals", conditions={**TEAM, "via": "params.owner_id"})
    data["trigger"]["inputs"]["owner_id"] = {"type": "integer", "required": True}
    data["steps"][1]["when"] = {"field": "lookup:users.name", "via": "params.owner_id", "op": "==",
                                "value": "Carla Manager"}  # fmt: skip
    Repository().create(validate_definition(data))
    stored = Repository().get("manager-deals")
    dag = build_dag(validate_definition(stored.with_status()), stored.version)

    run = dag.test(run_conf={"name": "small", "owner_id": user_id("alice@example.com")})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"conditions": "success", "create_deal": "skipped", "to_proposition": "skipped"}

    run = dag.test(run_conf={"name": "big", "owner_id": user_id("carla@example.com")})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"conditions": "success", "create_deal": "success", "to_proposition": "success"}
    with engine().connect() as conn:
        assert conn.execute(text("SELECT name, stage FROM crm.deals")).all() == [("big", "PROPOSITION")]

    run = dag.test(run_conf={"name": "nobody", "owner_id": 987654})  # a missing owner: null, not management
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["create_deal"] == "skipped"


@pytest.fixture
def api() -> Iterator[TestClient]:
    with admin_api() as client:
        yield client


@pytest.mark.usefixtures("airflow_db")
def test_the_api_refuses_a_bad_lookup_with_its_path_and_dry_runs_a_good_one(api: TestClient) -> None:
    bad = workflow("api-lookup", conditions={"all": [{**TEAM, "field": "lookup:users.rank", "via": "params.owner"}]})
    bad["trigger"]["inputs"]["owner"] = {"type": "integer"}
    refused = api.post("/api/v1/workflows", json=bad)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["path"] == "conditions.all[0].field"
    assert error["message"].startswith("collection 'users' has no column 'rank'; expected one of ['created_at'")

    good = workflow("api-lookup", conditions={**TEAM, "via": "params.owner"})
    good["trigger"]["inputs"]["owner"] = {"type": "integer"}
    assert api.post("/api/v1/workflows", json=good).status_code == 201
    carla = user_id("carla@example.com")
    planned = api.post("/api/v1/workflows/api-lookup/dry-run", json={"params": {"name": "x", "owner": carla}})
    assert planned.status_code == 200, planned.text
    assert planned.json()["would_run"] is True
    assert planned.json()["lookups"] == [{"collection": "users", "id": carla, "column": "team",
                                          "value": "management", "found": True}]  # fmt: skip


def test_the_cli_dry_run_prints_the_lookups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from automation.cli.main import main

    good = workflow("cli-lookup", conditions={**TEAM, "via": "params.owner"})
    good["trigger"]["inputs"]["owner"] = {"type": "integer"}
    Repository().create(validate_definition(good))
    carla = user_id("carla@example.com")
    for owner, expected in ((carla, f'looked up users {carla}: team = "management"'),
                            (987654, "looked up users 987654: team = null (no such record)")):  # fmt: skip
        (tmp_path / "event.json").write_text(json.dumps({"name": "x", "owner": owner}))
        main(["dry-run", "cli-lookup", "--event", str(tmp_path / "event.json")])
        assert expected in capsys.readouterr().out


def test_a_reader_on_given_connections_sees_their_uncommitted_rows() -> None:
    """A dry run's reader reads inside the transaction it rolls back; the default reader sees committed rows."""
    with engine().connect() as conn, conn.begin() as transaction:
        new_id = conn.execute(text("INSERT INTO crm.users (name, email, team) VALUES ('Dana', 'dana@example.com', "
                                   "'support') RETURNING id")).scalar_one()  # fmt: skip
        inside = StoreReader(connections=lambda connection_id: conn)
        assert evaluate(parse({**TEAM, "value": "support"}), on_store({"owner_id": new_id}, inside)) is True
        assert evaluate(parse({**TEAM, "op": "is_empty"}), on_store({"owner_id": new_id})) is True
        transaction.rollback()
