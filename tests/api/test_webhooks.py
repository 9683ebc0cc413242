"""Webhooks from real providers through the plugin's API (Starlette's TestClient over `create_app()`, no
Airflow login) on the session's real Postgres: for each verification scheme a valid delivery is stored
once (202), a wrong signature or token gets the uniform 404 and stores nothing, and a replayed delivery
is refused (409, or 404 when its timestamp is stale). The run's trigger data (`trigger.body`,
`trigger.headers` without credentials, `trigger.query`) is read back from the ledger the way a run
reads it, and rendered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from automation.api.app import create_app
from automation.api.webhooks import REFUSED
from automation.errors import DefinitionError
from automation.runtime import event_gate
from automation.runtime.context import template_context
from automation.runtime.event_gate import event_trigger
from automation.store.db import engine
from automation.store.repository import Repository
from automation.templating.sandbox import render_value
from automation.validation import validate_definition
from tests.events.test_webhook_verification import (
    GITHUB_BODY,
    GITHUB_SECRET,
    GITHUB_SIGNATURE,
    SLACK_BODY,
    SLACK_SECRET,
    SLACK_SIGNATURE,
    SLACK_TIMESTAMP,
    STRIPE_SECRET,
    stripe_header,
)

pytestmark = pytest.mark.usefixtures("db")

NOTE = "{{ trigger.headers['x-github-event'] | default('-') }} {{ trigger.query.source | default('-') }}"


@pytest.fixture
def client() -> Iterator[TestClient]:
    event_gate._event.cache_clear()  # ledger ids restart with each test's clean store
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def hook(key: str, monkeypatch: pytest.MonkeyPatch, secret: str, **verification: Any) -> Any:
    """An ACTIVE webhook workflow `key` verified by `verification`, its secret in its default connection."""
    trigger: dict[str, Any] = {"type": "webhook"}
    if verification:
        trigger["verification"] = verification
    definition = {"key": key, "name": key, "status": "ACTIVE", "trigger": trigger,
                  "steps": [{"id": "note", "type": "add_note",
                             "config": {"entity": "webhook", "entity_id": 1, "body": NOTE}}]}  # fmt: skip
    workflow = validate_definition(definition)
    Repository().create(workflow)
    conn_id = "AIRFLOW_CONN_AUTOMATION_WEBHOOK_" + key.upper().replace("-", "_")
    monkeypatch.setenv(conn_id, json.dumps({"conn_type": "generic", "password": secret}))
    return workflow


def events(key: str) -> list[dict[str, Any]]:
    with engine().connect() as conn:
        rows = conn.execute(
            text("SELECT id, idempotency_key, new_data, old_data, source FROM automation.events WHERE event = :k "
                 "ORDER BY id"), {"k": key},
        )  # fmt: skip
        return [dict(r) for r in rows.mappings()]


def refused(response: Any) -> bool:
    return response.status_code == 404 and response.json()["detail"] == REFUSED


def test_github_valid_wrong_and_replayed_deliveries(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = hook("gh-push", monkeypatch, GITHUB_SECRET, scheme="github")
    # GitHub's documented example verifies; its body ("Hello, World!") is then refused as not JSON (422, not 404)
    example = client.post("/webhooks/gh-push", content=GITHUB_BODY, headers={"X-Hub-Signature-256": GITHUB_SIGNATURE})
    assert example.status_code == 422 and example.json()["errors"] == [
        {"path": "body", "message": "expected a JSON object"}
    ]

    body = b'{"action": "opened", "issue": {"number": 7}}'
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": "d-1", "X-GitHub-Event": "issues",
               "Content-Type": "application/json", "Authorization": "Bearer leaked", "Cookie": "s=1"}  # fmt: skip
    accepted = client.post("/webhooks/gh-push?source=github&token=leaked", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text

    wrong = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64, "X-GitHub-Delivery": "d-2"}
    assert refused(client.post("/webhooks/gh-push", content=body, headers=wrong))
    tampered = body.replace(b"7", b"8")
    assert refused(client.post("/webhooks/gh-push", content=tampered, headers={**headers, "X-GitHub-Delivery": "d-3"}))
    replay = client.post("/webhooks/gh-push?source=github", content=body, headers=headers)
    assert replay.status_code == 409 and "replay" in replay.json()["detail"]

    (stored,) = events("gh-push")
    assert stored["idempotency_key"] == "webhook:gh-push:delivery:d-1" and stored["source"] == "webhook"
    trigger = event_trigger(workflow, str(stored["id"]))
    assert trigger["body"] == trigger["new"] == {"action": "opened", "issue": {"number": 7}}
    assert trigger["query"] == {"source": "github"} and trigger["old"] == {}
    assert trigger["headers"]["x-github-event"] == "issues" and trigger["headers"]["x-github-delivery"] == "d-1"
    hidden = {"authorization", "cookie", "x-hub-signature-256"}
    assert not hidden & set(trigger["headers"])
    context = template_context(workflow, 1, trigger)
    assert render_value(workflow.steps[0].config["body"], context) == "issues github"
    assert render_value("{{ trigger.body.issue.number }}", context) == 7


def test_stripe_valid_wrong_stale_and_replayed(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    hook("stripe-paid", monkeypatch, STRIPE_SECRET, scheme="stripe", tolerance=120)
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
    now = int(time.time())
    header = {"Stripe-Signature": stripe_header(STRIPE_SECRET, body, now)}
    assert client.post("/webhooks/stripe-paid", content=body, headers=header).status_code == 202
    assert client.post("/webhooks/stripe-paid", content=body, headers=header).status_code == 409
    # Stripe's own retry of the event: newly timestamped and signed, the same event id
    retry = {"Stripe-Signature": stripe_header(STRIPE_SECRET, body, now - 1)}
    assert client.post("/webhooks/stripe-paid", content=body, headers=retry).status_code == 409
    wrong = {"Stripe-Signature": stripe_header("whsec_wrong", body, now)}
    assert refused(client.post("/webhooks/stripe-paid", content=body, headers=wrong))
    stale = {"Stripe-Signature": stripe_header(STRIPE_SECRET, body, now - 121)}  # beyond the 120 s tolerance
    assert refused(client.post("/webhooks/stripe-paid", content=body, headers=stale))
    assert [e["idempotency_key"] for e in events("stripe-paid")] == ["webhook:stripe-paid:event:evt_1"]


def test_slack_valid_wrong_replayed_and_its_handshake(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = hook("slack-cmd", monkeypatch, SLACK_SECRET, scheme="slack")
    # Slack's documented example, sent today: the signature is right but its 2018 timestamp is a replay
    documented = {"X-Slack-Signature": SLACK_SIGNATURE, "X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP),
                  "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    assert refused(client.post("/webhooks/slack-cmd", content=SLACK_BODY, headers=documented))

    def signed(body: bytes, secret: str = SLACK_SECRET, content_type: str = "application/json") -> dict[str, str]:
        ts = str(int(time.time()))
        digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": ts, "Content-Type": content_type}

    headers = signed(SLACK_BODY, content_type="application/x-www-form-urlencoded")
    assert client.post("/webhooks/slack-cmd", content=SLACK_BODY, headers=headers).status_code == 202
    assert client.post("/webhooks/slack-cmd", content=SLACK_BODY, headers=headers).status_code == 409
    assert refused(client.post("/webhooks/slack-cmd", content=SLACK_BODY, headers=signed(SLACK_BODY, "wrong")))
    (stored,) = events("slack-cmd")
    trigger = event_trigger(workflow, str(stored["id"]))
    assert trigger["body"]["command"] == "/webhook-collect" and trigger["body"]["user_name"] == "roadrunner"
    assert "x-slack-signature" not in trigger["headers"] and "x-slack-request-timestamp" in trigger["headers"]

    handshake = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"}).encode()
    answer = client.post("/webhooks/slack-cmd", content=handshake, headers=signed(handshake))
    assert answer.status_code == 200 and answer.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"}
    assert refused(client.post("/webhooks/slack-cmd", content=handshake, headers=signed(handshake, "wrong")))
    assert len(events("slack-cmd")) == 1  # the handshake starts nothing


def test_hmac_header_valid_wrong_and_replayed(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    hook("shop-order", monkeypatch, "shpss", scheme="hmac_header", header="X-Shopify-Hmac-Sha256",
         encoding="base64", delivery_header="X-Shopify-Webhook-Id")  # fmt: skip
    body = b'{"id": 820982911946154508, "total_price": "10.00"}'
    signature = base64.b64encode(hmac.new(b"shpss", body, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Hmac-Sha256": signature, "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}
    assert client.post("/webhooks/shop-order", content=body, headers=headers).status_code == 202
    assert client.post("/webhooks/shop-order", content=body, headers=headers).status_code == 409
    wrong = {**headers, "X-Shopify-Hmac-Sha256": base64.b64encode(b"x" * 32).decode()}
    assert refused(client.post("/webhooks/shop-order", content=body, headers=wrong))
    assert refused(client.post("/webhooks/shop-order", content=body, headers={"X-Shopify-Webhook-Id": "other"}))
    assert [e["idempotency_key"] for e in events("shop-order")] == [
        "webhook:shop-order:delivery:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    ]


def test_token_valid_wrong_and_replayed_without_a_delivery_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = hook("gitlab-push", monkeypatch, "glpat-shared", scheme="token", header="X-Gitlab-Token")
    body = b'{"object_kind": "push"}'
    assert (
        client.post("/webhooks/gitlab-push", content=body, headers={"X-Gitlab-Token": "glpat-shared"}).status_code
        == 202
    )
    # no delivery id: the same body again is the same delivery
    assert (
        client.post("/webhooks/gitlab-push", content=body, headers={"X-Gitlab-Token": "glpat-shared"}).status_code
        == 409
    )
    for wrong in ({"X-Gitlab-Token": "glpat-share"}, {"X-Other-Token": "glpat-shared"}, {}):
        assert refused(client.post("/webhooks/gitlab-push", content=b'{"n": 2}', headers=wrong))
    (stored,) = events("gitlab-push")
    assert stored["idempotency_key"] == "webhook:gitlab-push:" + hashlib.sha256(body).hexdigest()
    assert "x-gitlab-token" not in event_trigger(workflow, str(stored["id"]))["headers"]


def test_a_verified_delivery_with_a_bad_query_is_a_422_with_its_path(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook("q-hook", monkeypatch, "tok", scheme="token")
    many = "&".join(f"p{i}=1" for i in range(40))
    answer = client.post(f"/webhooks/q-hook?{many}", content=b"{}", headers={"X-Webhook-Token": "tok"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["path"] == "query"
    assert events("q-hook") == []


def test_templates_may_read_headers_and_query_and_nothing_else_of_the_request() -> None:
    base = {
        "key": "names",
        "name": "n",
        "status": "DRAFT",
        "trigger": {"type": "webhook", "verification": {"scheme": "github"}},
    }
    note = {"id": "note", "type": "add_note", "config": {"entity": "webhook", "entity_id": 1}}
    ok = "{{ trigger.headers['x-github-event'] }} {{ trigger.query.ref }} {{ trigger.body.action }}"
    validate_definition({**base, "steps": [{**note, "config": {**note["config"], "body": ok}}]})
    with pytest.raises(DefinitionError, match="trigger.cookies"):
        validate_definition(
            {**base, "steps": [{**note, "config": {**note["config"], "body": "{{ trigger.cookies }}"}}]}
        )
    with pytest.raises(DefinitionError, match="trigger.verification.header: required field is missing"):
        validate_definition({**base, "trigger": {"type": "webhook", "verification": {"scheme": "hmac_header"}}})
    with pytest.raises(DefinitionError, match="trigger.verification: unknown scheme 'paypal'"):
        validate_definition(
            {**base, "trigger": {"type": "webhook", "verification": {"scheme": "paypal"}}, "steps": [note]}
        )


def test_conditions_decide_on_the_delivery_headers_and_query(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation.conditions import evaluate
    from automation.runtime.context import condition_data

    workflow = hook("gh-issues", monkeypatch, GITHUB_SECRET, scheme="github")
    conditions = {"all": [{"field": "trigger.headers.x-github-event", "op": "==", "value": "issues"},
                          {"field": "trigger.query.ref", "op": "==", "value": "main"}]}  # fmt: skip
    gated = validate_definition({**workflow.model_dump(mode="json", exclude_none=True), "conditions": conditions})
    body = b'{"action": "opened"}'
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    for delivery, event in (("i-1", "issues"), ("p-1", "push")):
        headers = {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": delivery, "X-GitHub-Event": event}
        assert client.post("/webhooks/gh-issues?ref=main", content=body, headers=headers).status_code == 202
    decided = [
        evaluate(
            gated.conditions, condition_data(gated, template_context(gated, 1, event_trigger(gated, str(e["id"]))))
        )
        for e in events("gh-issues")
    ]
    assert decided == [True, False]


def test_a_dry_run_takes_sample_headers_and_query(monkeypatch: pytest.MonkeyPatch) -> None:
    from automation.services.dry_run import dry_run

    hook("gh-dry", monkeypatch, GITHUB_SECRET, scheme="github")
    sample = {"body": {"action": "opened"}, "headers": {"x-github-event": "issues"}, "query": {"source": "gh"}}
    report = dry_run("gh-dry", sample, isolated=False)
    assert report["would_run"] is True and report["steps"][0]["output"]["body"] == "issues gh"
    bare = dry_run(
        "gh-dry", {"body": {"action": "opened"}}, isolated=False
    )  # none given: empty, as in a delivery without them
    assert bare["steps"][0]["output"]["body"] == "- -"
