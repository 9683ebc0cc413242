from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from pydantic import ValidationError

from automation.events.models import EventBatch, EventIn
from automation.events.webhooks import SignatureError, verify
from automation.store.ledger import EventLedger

pytestmark = pytest.mark.usefixtures("db")


def row(key: str, **extra: object) -> dict:
    return EventIn(entity="deals", event="updated", id=1, new={"stage": "SIGNED"}, idempotency_key=key,
                   **extra).ledger_row("api")  # fmt: skip


def test_a_repeated_idempotency_key_stores_once_and_returns_the_first_id() -> None:
    ledger = EventLedger()
    first = ledger.append([row("a"), row("b")])
    again = ledger.append([row("b"), row("c"), row("c")])
    assert [created for _, created in first] == [True, True]
    assert again[0] == (first[1][0], False) and again[1][1] is True and again[2] == (again[1][0], False)
    assert ledger.get(first[0][0])["new_data"] == {"stage": "SIGNED"}


def test_a_batch_mixing_events_with_and_without_optional_fields_stores_them_all() -> None:
    bare = EventIn(entity="deals", event="created", new={"name": "x"}, idempotency_key="bare").ledger_row("api")
    stored = EventLedger().append([row("full", actor="app", old={"stage": "NEW"}), bare])
    assert [created for _, created in stored] == [True, True]
    full, plain = (EventLedger().get(event_id) for event_id, _ in stored)
    assert (full["entity_id"], full["actor"], full["old_data"]) == ("1", "app", {"stage": "NEW"})
    assert (plain["entity_id"], plain["actor"], plain["old_data"], plain["depth"]) == (None, None, None, 0)


def test_claim_run_gives_each_event_and_workflow_one_owner() -> None:
    ledger = EventLedger()
    ((event_id, _),) = ledger.append([row("a")])
    assert ledger.claim_run(event_id, "wf", "run-1") is None
    assert ledger.claim_run(event_id, "wf", "run-1") is None  # a retry of the same run
    assert ledger.claim_run(event_id, "wf", "run-2") == "run-1"
    assert ledger.claim_run(event_id, "other", "run-2") is None


def test_throttle_and_debounce_state() -> None:
    ledger = EventLedger()
    assert ledger.throttle("wf", "deals:1", 1, 60) is True
    assert ledger.throttle("wf", "deals:1", 1, 60) is True  # a retry of the same event's run
    assert ledger.throttle("wf", "deals:1", 2, 60) is False
    assert ledger.throttle("wf", "deals:2", 3, 60) is True
    ledger.debounce_mark("wf", "deals:9", 10)
    ledger.debounce_mark("wf", "deals:9", 12)
    ledger.debounce_mark("wf", "deals:9", 11)
    assert ledger.debounce_latest("wf", "deals:9") == 12


def test_event_validation_names_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        EventBatch.model_validate({"events": [{"entity": "deals", "event": "created"}, {"entity": "Deals!"}]})
    locs = {tuple(e["loc"]) for e in caught.value.errors()}
    assert ("events", 1, "entity") in locs and ("events", 1, "event") in locs
    with pytest.raises(ValidationError):
        EventBatch.model_validate({"events": [{"entity": "a", "event": "b"}] * 501})


def sign(secret: str, body: bytes, ts: int) -> str:
    return f"t={ts},v1=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def test_webhook_signature_checks() -> None:
    now = int(time.time())
    body = b'{"issue": 1}'
    assert verify("s", body, sign("s", body, now))
    with pytest.raises(SignatureError, match="does not match"):
        verify("s", body + b" ", sign("s", body, now))
    with pytest.raises(SignatureError, match="old"):
        verify("s", body, sign("s", body, now - 301))
    with pytest.raises(SignatureError, match="missing"):
        verify("s", body, None)
    with pytest.raises(SignatureError, match="must look like"):
        verify("s", body, "sha256=abc")


@pytest.mark.usefixtures("airflow_db")
def test_cli_emit_stores_once_and_emits(capsys: pytest.CaptureFixture[str]) -> None:
    from automation.cli.main import main

    # an event no test's DAG listens to: the Airflow database is shared by the whole session, and other
    # tests register assets such as deals/updated in it
    args = ["emit", "deals", "ledger_only", "--id", "4", "--new", '{"stage": "SIGNED"}', "--old", '{"stage": "LOST"}',
            "--key", "deal-4-v2"]  # fmt: skip
    assert main(args) == 0
    assert "stored and emitted" in capsys.readouterr().out
    assert main(args) == 0
    assert "already stored" in capsys.readouterr().out
    ((event_id, _),) = EventLedger().append([row("deal-4-v2")])
    stored = EventLedger().get(event_id)
    assert stored["new_data"] == {"stage": "SIGNED"} and stored["old_data"] == {"stage": "LOST"}
    assert stored["emitted_at"] is not None and stored["emit_note"] == "no workflow listens to this event"
    assert main(["emit", "Deals", "updated"]) == 2


def test_ingest_survives_a_dead_pooled_connection_and_stores_once() -> None:
    """The events API's pool has no pre-ping (and autocommits its one statement): a connection the server dropped (a restart, an idle
    timeout) is found dead on use, and the insert is retried once on a fresh connection."""
    from sqlalchemy import text

    from automation.events.ingest import ingest
    from automation.store.db import engine

    def event(key: str) -> EventIn:
        return EventIn(entity="deals", event="created", id=7, idempotency_key=key)

    (first,) = ingest([event("before")])  # leaves an idle connection in the ingest pool
    with engine().connect() as admin:
        killed = admin.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE application_name = 'airflow-automations' AND pid <> pg_backend_pid()")
        ).scalar_one()  # fmt: skip
    assert killed >= 1
    (after,) = ingest([event("after")])
    (again,) = ingest([event("after")])
    assert after.created and again == after.model_copy(update={"created": False}) and after.id != first.id
