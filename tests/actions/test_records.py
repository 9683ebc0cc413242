from __future__ import annotations

import select
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from automation.errors import ActionError, DefinitionError, PermanentActionError, RegistryError
from automation.store.db import engine

pytestmark = pytest.mark.usefixtures("db")


def sql(statement: str) -> list[dict]:
    with engine().begin() as conn:
        result = conn.execute(text(statement))
        return [dict(r) for r in result.mappings()] if result.returns_rows else []


@pytest.fixture
def deals(db: None) -> None:
    sql("INSERT INTO crm.deals (name, amount, stage, owner_id) VALUES ('ACME', 60000, 'SIGNED', 1), "
        "('Beta', 100, 'QUALIFICATION', 2), ('Gamma', 200, 'QUALIFICATION', 2)")  # fmt: skip


@pytest.mark.usefixtures("deals")
def test_update_delete_and_field_actions_change_the_crm(run_step: Callable) -> None:
    run_step({"id": "s", "type": "update_record", "config": {"collection": "deals", "id": "{{ trigger.id }}",
                                                             "values": {"stage": "WON"}}})  # fmt: skip
    run_step({"id": "f", "type": "update_field", "config": {"collection": "deals", "id": 2, "field": "amount",
                                                            "value": 150}})  # fmt: skip
    out = run_step({"id": "d", "type": "delete_record", "config": {"collection": "deals", "id": 3}}).output
    assert out["name"] == "Gamma"
    assert sql("SELECT id, stage, amount FROM crm.deals ORDER BY id") == [
        {"id": 1, "stage": "WON", "amount": 60000}, {"id": 2, "stage": "QUALIFICATION", "amount": 150}
    ]  # fmt: skip


@pytest.mark.usefixtures("deals")
def test_update_many_with_filter_and_cap(run_step: Callable) -> None:
    step = {"id": "bulk", "type": "update_many",
            "config": {"collection": "deals", "filter": {"field": "stage", "op": "==", "value": "QUALIFICATION"},
                       "values": {"stage": "LOST"}, "max_rows": 1}}  # fmt: skip
    with pytest.raises(PermanentActionError, match="more than 1 deals"):
        run_step(step)
    assert sql("SELECT count(*) AS n FROM crm.deals WHERE stage = 'LOST'") == [{"n": 0}]
    step["config"]["max_rows"] = 2
    assert run_step(step, run_id="run-2").output == {"updated": 2, "ids": [2, 3]}
    assert sql("SELECT count(*) AS n FROM crm.deals WHERE stage = 'LOST'") == [{"n": 2}]


@pytest.mark.usefixtures("deals")
def test_delete_many_with_date_filter(run_step: Callable) -> None:
    sql("UPDATE crm.deals SET created_at = now() - interval '40 days' WHERE id = 2")
    out = run_step(
        {
            "id": "purge",
            "type": "delete_many",
            "config": {"collection": "deals", "filter": {"field": "created_at", "op": "older_than_days", "value": 30}},
        }
    ).output
    assert out == {"deleted": 1, "ids": [2]}


def test_filter_on_unknown_column_is_refused(run_step: Callable) -> None:
    """Refused by validation now (issue 12), with the filter's path; it used to fail only when run."""
    with pytest.raises(DefinitionError, match=r"steps\[0\]\.config\.filter\.field: column 'password'"):
        run_step(
            {
                "id": "x",
                "type": "update_many",
                "config": {
                    "collection": "users",
                    "filter": {"field": "password", "op": "==", "value": "x"},
                    "values": {"team": "x"},
                },
            }
        )


@pytest.mark.usefixtures("deals")
def test_create_task_assign_tag_note_and_notification(run_step: Callable) -> None:
    task = run_step({"id": "t", "type": "create_task", "config": {
        "title": "Follow up {{ trigger.new.name }}", "assignee_id": "{{ trigger.new.owner_id }}", "due": "+7 days",
        "values": {"deal_id": "{{ trigger.id }}"}}}).output  # fmt: skip
    assert task["title"] == "Follow up ACME" and task["assignee_id"] == 1 and task["deal_id"] == 1
    assert sql("SELECT round(extract(epoch FROM due_date - now()) / 86400) AS days FROM crm.tasks") == [{"days": 7}]

    picks = [run_step({"id": "a", "type": "assign_user", "config": {"collection": "deals", "id": 2,
                                                                   "round_robin": [1, 2, 3]}}, run_id=f"r{i}").output
             for i in range(4)]  # fmt: skip
    assert [p["user_id"] for p in picks] == [1, 2, 3, 1]

    tag = {"id": "tag", "type": "add_tag", "config": {"collection": "deals", "id": 1, "tags": ["vip", "new-lead"]}}
    assert run_step(tag).output["added"] == 2
    assert run_step(tag, run_id="again").output["added"] == 0
    run_step({"id": "n", "type": "add_note", "config": {"entity": "deals", "entity_id": 1, "body": "Signed!"}})
    assert sql("SELECT kind, body FROM crm.activities") == [{"kind": "note", "body": "Signed!"}]

    with engine().connect() as conn:
        raw = conn.connection.dbapi_connection
        raw.autocommit = True
        with raw.cursor() as cur:
            cur.execute("LISTEN automation_notifications")
        note = run_step(
            {
                "id": "notify",
                "type": "send_notification",
                "config": {
                    "title": "Deal {{ trigger.new.name }} signed",
                    "level": "success",
                    "recipient": "carla@example.com",
                },
            }
        )
        deadline = time.monotonic() + 5
        while not raw.notifies and time.monotonic() < deadline:
            select.select([raw], [], [], 0.5)
            raw.poll()
        assert [n.payload for n in raw.notifies] and '"Deal ACME signed"' in raw.notifies[0].payload
        conn.invalidate()  # an autocommit, LISTENing session must not go back into the pool
    assert note.output["level"] == "success"
    assert sql("SELECT title, level, recipient FROM automation.notifications") == [
        {"title": "Deal ACME signed", "level": "success", "recipient": "carla@example.com"}
    ]


@pytest.mark.usefixtures("deals")
def test_a_delivered_step_is_not_repeated_unless_asked(run_step: Callable) -> None:
    step = {"id": "c", "type": "create_record", "config": {"collection": "activities",
            "values": {"body": "once", "entity": "deals", "entity_id": 1}}}  # fmt: skip
    first = run_step(step)
    again = run_step(step)
    assert again.status == "recorded" and again.output == first.output
    assert sql("SELECT count(*) AS n FROM crm.activities") == [{"n": 1}]
    run_step({**step, "repeat_on_clear": True})
    assert sql("SELECT count(*) AS n FROM crm.activities") == [{"n": 2}]


@pytest.mark.usefixtures("deals")
def test_record_changes_go_to_the_ledger_with_origin_and_depth(run_step: Callable) -> None:
    run_step(
        {"id": "s", "type": "update_record", "config": {"collection": "deals", "id": 1, "values": {"stage": "WON"}}}
    )
    run_step(
        {"id": "s", "type": "update_record", "config": {"collection": "deals", "id": 1, "values": {"stage": "WON"}}}
    )
    events = sql("SELECT entity, entity_id, event, old_data->>'stage' AS old, new_data->>'stage' AS new, "
                 "origin_workflow, depth, source, emitted_at FROM automation.events")  # fmt: skip
    assert events == [{"entity": "deals", "entity_id": "1", "event": "updated", "old": "SIGNED", "new": "WON",
                       "origin_workflow": "t", "depth": 1, "source": "outbox", "emitted_at": None}]  # fmt: skip


DEAL_ROW = {"id": 1, "name": "ACME", "stage": "SIGNED", "amount": 60000, "owner_id": 1}


def bulk_rename(value: str, field: str = "name") -> dict:
    return {"id": "bulk", "type": "update_many", "config": {
        "collection": "deals", "values": {"stage": "LOST"}, "filter": {"field": field, "op": "matches", "value": value}}}  # fmt: skip


def deal_event(**new: str) -> dict:
    return {"type": "record_event", "entity": "deals", "event": "updated", "id": 1, "new": {**DEAL_ROW, **new}}


@pytest.mark.usefixtures("deals")
def test_a_filter_pattern_chosen_by_the_event_reaches_postgres_only_if_re2_accepts_it(run_step: Callable) -> None:
    """A rendered `matches` value is checked at run time as validation checks a literal one:
    `^(G)\\1` (a backreference, which Postgres would run by backtracking) fails the step unchanged."""
    step = bulk_rename("{{ trigger.new.pattern }}")
    with pytest.raises(DefinitionError, match=r"steps\.bulk\.config\.filter\.value: .*RE2 does not support backref"):
        run_step(step, trigger=deal_event(pattern=r"^(G)\1"))
    assert sql("SELECT count(*) AS n FROM crm.deals WHERE stage = 'LOST'") == [{"n": 0}]
    sql("INSERT INTO crm.deals (name, amount, stage, owner_id) VALUES (repeat('a', 50) || '!', 1, 'NEW', 1)")
    assert run_step(step, trigger=deal_event(pattern="^(a+)+$"), run_id="run-2").output == {"updated": 0, "ids": []}
    assert run_step(step, trigger=deal_event(pattern="^(B|G)"), run_id="run-3").output == {"updated": 2, "ids": [2, 3]}


@pytest.mark.usefixtures("deals")
def test_a_filter_column_chosen_by_the_event_is_still_checked_when_the_step_runs(run_step: Callable) -> None:
    with pytest.raises(RegistryError, match="filter: column 'password' is not in the collection"):
        run_step(bulk_rename("x", field="{{ trigger.new.column }}"), trigger=deal_event(column="password"))


@pytest.mark.usefixtures("deals")
def test_contains_in_a_filter_is_a_substring_not_a_like_pattern(run_step: Callable) -> None:
    """`%` from an event matched every row (LIKE '%%%'): a bulk update of the whole collection."""
    step = {"id": "bulk", "type": "update_many", "config": {
        "collection": "deals", "values": {"stage": "LOST"},
        "filter": {"field": "name", "op": "contains", "value": "{{ trigger.new.part }}"}}}  # fmt: skip
    assert run_step(step, trigger=deal_event(part="%")).output == {"updated": 0, "ids": []}
    assert run_step(step, trigger=deal_event(part="_"), run_id="run-1b").output == {"updated": 0, "ids": []}
    assert run_step(step, trigger=deal_event(part="amm"), run_id="run-2").output == {"updated": 1, "ids": [3]}


@pytest.mark.usefixtures("deals")
def test_a_filter_slower_than_the_statement_timeout_fails_the_attempt_and_changes_nothing(
    run_step: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter's statement (a Postgres regex scan, which is not linear-time, or a wait on rows another
    transaction holds) is stopped at AUTOMATION_RECORDS_FILTER_TIMEOUT_MS; the next attempt can succeed."""
    monkeypatch.setenv("AUTOMATION_RECORDS_FILTER_TIMEOUT_MS", "300")
    step = bulk_rename("^(B|G)")
    with engine().connect() as holder:
        holder.execute(text("SELECT id FROM crm.deals WHERE id = 2 FOR UPDATE"))  # an app's open transaction
        with pytest.raises(ActionError, match=r"filter on deals took longer than 300 ms .*locked") as failed:
            run_step(step)
        assert failed.value.retryable
        holder.rollback()
    assert sql("SELECT count(*) AS n FROM crm.deals WHERE stage = 'LOST'") == [{"n": 0}]
    assert run_step(step, run_id="run-2").output == {"updated": 2, "ids": [2, 3]}
