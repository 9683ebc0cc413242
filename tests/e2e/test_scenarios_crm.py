"""CRM scenarios from the field, end to end on one real Airflow: each template is made into a workflow
through the API (real JWT), its DAG appears, the dry run shows the plan, and real events (or the
inactivity scan, triggered through Airflow's REST API) produce exactly the expected emails (aiosmtpd),
CRM records and notifications; an event that misses the conditions is a skipped execution with no effect.

Everything is set up and driven once for the module (all workflows created, all DAGs waited for
together, all events sent at once); each test then checks one scenario."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from email.message import Message
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from automation.store.db import engine
from tests.conftest import CLEAN_TABLES
from tests.e2e.conftest import AirflowApi, wait_for
from tests.servers import Mailbox, smtp_server

pytestmark = pytest.mark.airflow_e2e
API = "/automation/api/v1"
ALICE, BOB = 1, 2  # the demo CRM's users
MANAGER = "boss@acme.test"

# workflow key -> (template, parameters)
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "crm-inactive-deals": ("inactive-deal-follow-up", {"days": 30, "scan_cron": "0 0 1 1 *"}),
    "crm-onboarding": ("new-client-onboarding", {"manager_email": MANAGER}),
    "crm-large-organisation": ("large-organisation-alert", {"threshold": 50000, "manager_email": MANAGER}),
    "crm-lead-assignment": ("lead-assignment", {"team": [BOB, ALICE]}),
}
ASSETS = {  # what each event-driven DAG is scheduled on
    "crm-inactive-deals": "automation://deals/inactive.crm-inactive-deals",
    "crm-onboarding": "automation://deals/updated",
    "crm-large-organisation": "automation://organisations/created",
    "crm-lead-assignment": "automation://contacts/created",
}
EXPECTED_RUNS = {  # executions API statuses once every run finished
    "crm-inactive-deals": ["skipped", "success", "success"],
    "crm-onboarding": ["skipped", "success"],
    "crm-large-organisation": ["skipped", "success"],
    "crm-lead-assignment": ["skipped", "success"],
}


SLOW = 120  # seconds per request: the machine is shared with other Airflow test sessions


def polled(check: Callable[[], Any]) -> Callable[[], Any]:
    """`check` for `wait_for`, where an api-server too busy to answer in time is a "not yet"."""

    def attempt() -> Any:
        try:
            return check()
        except httpx.TimeoutException:
            return None

    return attempt


def sql(statement: str, **params: Any) -> list[dict[str, Any]]:
    with engine().begin() as conn:
        result = conn.execute(text(statement), params)
        return [dict(r) for r in result.mappings()] if result.returns_rows else []


def insert(table: str, **values: Any) -> dict[str, Any]:
    columns = ", ".join(values)
    (row,) = sql(f"INSERT INTO crm.{table} ({columns}) VALUES ({', '.join(':' + c for c in values)}) RETURNING *",
                 **values)  # fmt: skip
    return row


def record(row: dict[str, Any]) -> dict[str, Any]:
    """A CRM row as an app would post it in an event (JSON values)."""

    def plain(v: Any) -> Any:
        return (int(v) if v == v.to_integral_value() else float(v)) if isinstance(v, Decimal) else v

    return {k: plain(v) for k, v in row.items() if k not in {"created_at", "updated_at"}}


def tasks() -> list[dict[str, Any]]:
    return sql("SELECT title, assignee_id, deal_id, contact_id, status, "
               "round(extract(epoch FROM due_date - now()) / 86400)::int AS due_in_days FROM crm.tasks ORDER BY id")  # fmt: skip


def notifications() -> list[dict[str, Any]]:
    return sql("SELECT workflow_key, recipient, level, title, body FROM automation.notifications ORDER BY id")


def mails(mailbox: Mailbox, subject_start: str) -> list[tuple[list[str], Message]]:
    """(envelope recipients, message) of the emails whose subject starts with `subject_start`."""
    return [(to, m) for m, to in zip(mailbox.messages, mailbox.envelopes, strict=True)
            if m["Subject"].startswith(subject_start)]  # fmt: skip


def body(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode().replace("\r\n", "\n")


@dataclass
class World:
    airflow: AirflowApi
    mailbox: Mailbox
    rows: dict[str, dict[str, Any]]
    executions: dict[str, list[dict[str, Any]]]

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.airflow.client.post(f"{API}{path}", json=body, timeout=SLOW)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def dry_run(self, key: str, event: dict[str, Any]) -> dict[str, Any]:
        report = self.post(f"/workflows/{key}/dry-run", {"event": event})
        return {**report, "plans": {p["step"]: p for p in report["steps"]}}

    def execution_by_name(self, key: str) -> dict[str, str]:
        """Status of each execution, by the name of the record its event was about."""
        return {e["event"]["new"]["name"]: e["status"] for e in self.executions[key]}


@pytest.fixture(scope="module")
def smtp(airflow: AirflowApi) -> Iterator[Mailbox]:
    """A real SMTP server on loopback; the Airflow tasks reach it through the `smtp_default`
    connection, created through Airflow's REST API and removed afterwards."""
    with smtp_server() as (mailbox, port):
        airflow.client.delete("/api/v2/connections/smtp_default", timeout=SLOW)
        created = airflow.client.post("/api/v2/connections", timeout=SLOW, json={
            "connection_id": "smtp_default", "conn_type": "smtp", "host": "127.0.0.1", "port": port,
            "extra": '{"from_email": "automation@acme.test", "disable_ssl": true, "disable_tls": true}'})  # fmt: skip
        assert created.status_code == 201, created.text
        try:
            yield mailbox
        finally:
            airflow.client.delete("/api/v2/connections/smtp_default", timeout=SLOW)


def create_workflows(airflow: AirflowApi) -> None:
    for key, (template, parameters) in SCENARIOS.items():
        detail = airflow.client.get(f"{API}/templates/{template}", timeout=SLOW).json()
        assert detail["category"] == "crm" and detail["description"], detail
        created = airflow.client.post(
            f"{API}/templates/{template}/workflows", json={"key": key, "parameters": parameters}, timeout=SLOW
        )
        assert created.status_code == 201, created.text
        assert (created.json()["status"], created.json()["dag_id"]) == ("ACTIVE", f"automation__{key}")
    dag_ids = [f"automation__{key}" for key in SCENARIOS] + ["automation__crm-inactive-deals__scan"]
    wait_for(polled(lambda: all(airflow.dag(d) for d in dag_ids)), 600, "the four workflows' DAGs and the scan DAG", 2)
    assert not any(airflow.dag(d)["is_paused"] for d in dag_ids)

    def scheduled() -> bool:  # the dag-processor registers each DAG's asset with it
        assets = airflow.get("/assets", uri_pattern="automation://", limit=100)["assets"]
        on = {a["uri"]: {d["dag_id"] for d in a["scheduled_dags"]} for a in assets}
        return all(f"automation__{key}" in on.get(uri, ()) for key, uri in ASSETS.items())

    wait_for(polled(scheduled), 300, "the DAGs scheduled on their assets", 2)


def seed_crm() -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    # 1. inactive deals: two idle in followed stages (owned), one idle without owner, one closed, one busy
    for name, stage, owner, idle_days in [("Idle proposal", "PROPOSITION", ALICE, 40), ("Idle qualification",
            "QUALIFICATION", BOB, 31), ("Idle unowned", "PROPOSITION", None, 45), ("Old lost", "LOST", ALICE, 90),
            ("Busy proposal", "PROPOSITION", ALICE, 2)]:  # fmt: skip
        rows[name] = insert("deals", name=name, stage=stage, owner_id=owner, amount=1000)
        sql("UPDATE crm.deals SET updated_at = now() - make_interval(days => :d) WHERE id = :id",
            d=idle_days, id=rows[name]["id"])  # fmt: skip
    # 2. onboarding: signed from PROPOSITION (yes) and from QUALIFICATION (no)
    rows["Zoe"] = insert("contacts", name="Zoe Client", email="zoe@client.test")
    rows["Yan"] = insert("contacts", name="Yan Client", email="yan@client.test")
    rows["ACME renewal"] = insert("deals", name="ACME renewal", stage="SIGNED", owner_id=BOB, amount=30000,
                                  contact_id=rows["Zoe"]["id"])  # fmt: skip
    rows["Beta pilot"] = insert("deals", name="Beta pilot", stage="SIGNED", owner_id=ALICE, amount=5000,
                                contact_id=rows["Yan"]["id"])  # fmt: skip
    # 3. organisations: over and under the threshold
    rows["Globex"] = insert("organisations", name="Globex", potential_amount=75000)
    rows["Small Co"] = insert("organisations", name="Small Co", potential_amount=20000)
    # 4. contacts: without owner (yes), with one (no), and one for the dry run only
    rows["Lena Lead"] = insert("contacts", name="Lena Lead", email="lena@lead.test")
    rows["Olga Owned"] = insert("contacts", name="Olga Owned", email="olga@lead.test", owner_id=ALICE)
    rows["Dry Dan"] = insert("contacts", name="Dry Dan", email="dan@lead.test")
    return rows


def send_events(world: World) -> None:
    rows, post = world.rows, world.post
    for deal, old_stage in (("ACME renewal", "PROPOSITION"), ("Beta pilot", "QUALIFICATION")):
        new = record(rows[deal])
        post("/events", {"entity": "deals", "event": "updated", "id": new["id"], "new": new,
                         "old": {**new, "stage": old_stage}})  # fmt: skip
    for name in ("Globex", "Small Co"):
        post("/events", {"entity": "organisations", "event": "created", "id": rows[name]["id"],
                         "new": record(rows[name])})  # fmt: skip
    for name in ("Lena Lead", "Olga Owned"):
        post("/events", {"entity": "contacts", "event": "created", "id": rows[name]["id"], "new": record(rows[name])})
    airflow = world.airflow
    scan = airflow.client.post(
        "/api/v2/dags/automation__crm-inactive-deals__scan/dagRuns", json={"logical_date": None}, timeout=SLOW
    ).json()
    path = f"/dags/automation__crm-inactive-deals__scan/dagRuns/{scan['dag_run_id']}"
    state = wait_for(
        polled(lambda: {"success", "failed"} & {airflow.get(path)["state"]}), 600, "the inactivity scan", 2
    )
    assert state == {"success"}


def finished_executions(
    airflow: AirflowApi, expected: dict[str, list[str]] | None = None
) -> dict[str, list[dict[str, Any]]] | None:
    """Each workflow's executions once all of them finished, None before; more runs than expected (a
    stray run would otherwise keep the module waiting until its timeout) fail at once."""
    expected = EXPECTED_RUNS if expected is None else expected
    found = {k: airflow.client.get(f"{API}/workflows/{k}/executions", timeout=SLOW).json()["executions"]
             for k in expected}  # fmt: skip
    extra = {k: [e["run_id"] for e in found[k]] for k in expected if len(found[k]) > len(expected[k])}
    assert not extra, f"more runs than expected: {extra}"
    done = all(len(found[k]) == len(expected[k]) for k in expected) and all(
        e["status"] in {"success", "skipped", "failed"} for runs in found.values() for e in runs
    )
    return found if done else None


@pytest.fixture(scope="module")
def world(airflow: AirflowApi, smtp: Mailbox) -> World:
    with engine().begin() as conn:  # a clean store and CRM for the module, as the `db` fixture does per test
        conn.execute(text(f"TRUNCATE {CLEAN_TABLES} RESTART IDENTITY CASCADE"))
    create_workflows(airflow)
    world = World(airflow, smtp, seed_crm(), {})
    send_events(world)
    world.executions = wait_for(polled(lambda: finished_executions(airflow)), 1200, "every scenario's runs", 3)
    return world


def test_every_run_finished_as_expected_in_airflow(world: World) -> None:
    for key, statuses in EXPECTED_RUNS.items():
        assert sorted(e["status"] for e in world.executions[key]) == statuses, key
        runs = world.airflow.get(f"/dags/automation__{key}/dagRuns")["dag_runs"]
        assert [r["state"] for r in runs] == ["success"] * len(statuses), key  # a skipped run is a success there
    skipped = world.airflow.client.get(f"{API}/workflows/crm-onboarding/executions", params={"status": "skipped"})
    assert [e["event"]["outcome"] for e in skipped.json()["executions"]] == ["conditions_false"]
    assert len(world.mailbox.messages) == 5  # 2 inactive-deal owners, 1 client, 1 manager, 1 lead owner


def test_inactive_deal_follow_up(world: World) -> None:
    rows, key = world.rows, "crm-inactive-deals"
    assert world.execution_by_name(key) == {
        "Idle proposal": "success", "Idle qualification": "success", "Idle unowned": "skipped"}  # fmt: skip
    # the owners are emailed, get a "Follow up" task due in 7 days and a warning notification
    sent = mails(world.mailbox, "No activity on ")
    assert sorted((to, m["Subject"]) for to, m in sent) == [
        (["alice@example.com"], "No activity on Idle proposal for 30 days"),
        (["bob@example.com"], "No activity on Idle qualification for 30 days"),
    ]
    assert all(body(m).startswith(("Hello Alice Martin,", "Hello Bob Durand,")) for _, m in sent)
    assert all('A "Follow up" task is waiting for you, due in 7 days.' in body(m) for _, m in sent)
    follow_ups = sorted((t for t in tasks() if t["title"] == "Follow up"), key=lambda t: t["assignee_id"])
    assert follow_ups == [
        {"title": "Follow up", "assignee_id": owner, "deal_id": rows[deal]["id"], "contact_id": None,
         "status": "OPEN", "due_in_days": 7}
        for owner, deal in ((ALICE, "Idle proposal"), (BOB, "Idle qualification"))
    ]  # fmt: skip
    warnings = [n for n in notifications() if n["workflow_key"] == key]
    assert sorted((n["recipient"], n["level"], n["title"]) for n in warnings) == [
        ("alice@example.com", "warning", "Idle proposal: no activity for 30 days"),
        ("bob@example.com", "warning", "Idle qualification: no activity for 30 days"),
    ]
    # the dry run of an owned idle deal shows the plan; of the unowned one, nothing
    before = (tasks(), notifications())
    report = world.dry_run(key, {"id": rows["Idle proposal"]["id"], "new": record(rows["Idle proposal"])})
    plans = report["plans"]
    assert report["conditions_met"] and report["error"] is None
    assert [p["step"] for p in report["steps"]] == ["email_owner", "follow_up_task", "warn_owner"]
    assert plans["email_owner"]["status"] == "planned"
    assert plans["email_owner"]["detail"] == "would email alice@example.com: 'No activity on Idle proposal for 30 days'"
    assert plans["follow_up_task"]["output"]["title"] == "Follow up"
    assert plans["follow_up_task"]["output"]["assignee_id"] == ALICE
    assert plans["warn_owner"]["config"]["level"] == "warning"
    unowned = world.dry_run(key, {"id": rows["Idle unowned"]["id"], "new": record(rows["Idle unowned"])})
    assert not unowned["conditions_met"] and {p["status"] for p in unowned["steps"]} == {"skipped"}
    assert (tasks(), notifications()) == before  # a dry run commits nothing


def test_new_client_onboarding(world: World) -> None:
    rows, key = world.rows, "crm-onboarding"
    assert world.execution_by_name(key) == {"ACME renewal": "success", "Beta pilot": "skipped"}
    ((to, welcome),) = mails(world.mailbox, "Welcome aboard!")  # Yan (signed from QUALIFICATION) gets nothing
    assert (to, welcome["From"]) == (["zoe@client.test"], "welcome@example.com")
    assert body(welcome).startswith("Hello Zoe Client,") and "Bob Durand will" in body(welcome)
    acme, zoe = rows["ACME renewal"]["id"], rows["Zoe"]["id"]
    assert [t for t in tasks() if t["deal_id"] in {acme, rows["Beta pilot"]["id"]}] == [
        {"title": "Welcome call", "assignee_id": BOB, "deal_id": acme, "contact_id": zoe, "status": "OPEN",
         "due_in_days": 3},
        {"title": "Send documents", "assignee_id": BOB, "deal_id": acme, "contact_id": zoe, "status": "OPEN",
         "due_in_days": 1},
    ]  # fmt: skip
    assert [n for n in notifications() if n["workflow_key"] == key] == [
        {"workflow_key": key, "recipient": MANAGER, "level": "success", "title": "New client: ACME renewal signed",
         "body": "Bob Durand signed ACME renewal (30000)"}]  # fmt: skip
    # dry run: the same plan for the signed deal; a deal signed from QUALIFICATION does nothing
    before = (tasks(), notifications())
    new = record(rows["ACME renewal"])
    report = world.dry_run(key, {"id": acme, "new": new, "old": {**new, "stage": "PROPOSITION"}})
    plans = report["plans"]
    assert report["conditions_met"] and report["error"] is None
    assert plans["welcome_email"]["detail"] == "would email zoe@client.test: 'Welcome aboard!'"
    assert [(plans[s]["output"]["title"], plans[s]["config"]["due"]) for s in ("welcome_call", "send_documents")] == [
        ("Welcome call", "+3 days"), ("Send documents", "+1 days")]  # fmt: skip
    assert (plans["tell_manager"]["config"]["recipient"], plans["tell_manager"]["config"]["level"]) == (
        MANAGER, "success")  # fmt: skip
    beta = record(rows["Beta pilot"])
    no = world.dry_run(key, {"id": beta["id"], "new": beta, "old": {**beta, "stage": "QUALIFICATION"}})
    assert not no["conditions_met"] and {p["status"] for p in no["steps"]} == {"skipped"}
    assert (tasks(), notifications()) == before


def test_large_organisation_alert(world: World) -> None:
    rows, key = world.rows, "crm-large-organisation"
    assert world.execution_by_name(key) == {"Globex": "success", "Small Co": "skipped"}
    ((to, alert),) = mails(world.mailbox, "Large deal: ")  # none for Small Co
    assert (to, alert["Subject"]) == ([MANAGER], "Large deal: Globex (75000)")
    assert body(alert) == "Globex was just created with a potential amount of 75000\n(over 50000).\n"
    assert [n for n in notifications() if n["workflow_key"] == key] == [
        {"workflow_key": key, "recipient": MANAGER, "level": "info", "title": "Large deal: Globex",
         "body": "Potential amount 75000 (over 50000)"}]  # fmt: skip
    before = notifications()
    report = world.dry_run(key, {"id": rows["Globex"]["id"], "new": record(rows["Globex"])})
    assert report["conditions_met"] and [(p["step"], p["status"]) for p in report["steps"]] == [
        ("email_manager", "planned"), ("notify_manager", "would_run")]  # fmt: skip
    small = world.dry_run(key, {"id": rows["Small Co"]["id"], "new": record(rows["Small Co"])})
    assert not small["conditions_met"] and {p["status"] for p in small["steps"]} == {"skipped"}
    assert notifications() == before


def test_lead_assignment(world: World) -> None:
    rows, key = world.rows, "crm-lead-assignment"
    assert world.execution_by_name(key) == {"Lena Lead": "success", "Olga Owned": "skipped"}
    lena, olga = rows["Lena Lead"]["id"], rows["Olga Owned"]["id"]
    owners = {r["id"]: r["owner_id"] for r in sql("SELECT id, owner_id FROM crm.contacts")}
    assert (owners[lena], owners[olga]) == (BOB, ALICE)  # the first of the team; Olga kept her owner
    assert sql("SELECT name, entity, entity_id FROM crm.tags") == [
        {"name": "new-lead", "entity": "contacts", "entity_id": lena}]  # fmt: skip
    ((to, message),) = mails(world.mailbox, "New lead for you: ")  # none about Olga
    assert (to, message["From"], message["Subject"]) == (["bob@example.com"], "crm@example.com",
                                                         "New lead for you: Lena Lead")  # fmt: skip
    assert body(message).startswith("Hello Bob Durand,") and "Lena Lead (lena@lead.test)" in body(message)
    assert [t for t in tasks() if t["contact_id"] in {lena, olga}] == []
    # dry run: the next in turn (Alice) would own Dan, and be emailed; nothing is kept
    dan = rows["Dry Dan"]["id"]
    report = world.dry_run(key, {"id": dan, "new": record(rows["Dry Dan"])})
    plans = report["plans"]
    assert report["conditions_met"] and report["error"] is None
    assert plans["assign"]["output"]["user_id"] == ALICE and plans["assign"]["output"]["user"]["name"] == "Alice Martin"
    assert plans["tag"]["output"] == {"tags": ["new-lead"], "added": 1}
    assert plans["email_owner"]["detail"] == "would email alice@example.com: 'New lead for you: Dry Dan'"
    assert sql("SELECT owner_id FROM crm.contacts WHERE id = :id", id=dan) == [{"owner_id": None}]
    assert len(sql("SELECT id FROM crm.tags")) == 1
    owned = world.dry_run(key, {"id": olga, "new": record(rows["Olga Owned"])})
    assert not owned["conditions_met"] and {p["status"] for p in owned["steps"]} == {"skipped"}
