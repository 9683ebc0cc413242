"""Notification channels through Airflow's notifier providers, against loopback servers: Apprise's
`json://` service and a Slack incoming webhook receive the rendered notice; every delivery is in the
delivery log; a failed one is logged with its error and a replay delivers it once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from automation.channels import Message, deliver, replay
from automation.store.db import engine
from tests.actions.conftest import run_one_step
from tests.servers import Recorded, http_server

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture(autouse=True)
def clean_log() -> Iterator[None]:
    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.notification_deliveries RESTART IDENTITY"))
    yield


def deliveries() -> list[dict[str, Any]]:
    with engine().connect() as conn:
        rows = conn.execute(
            text("SELECT channel, status, error, attempt, title FROM automation.notification_deliveries ORDER BY id")
        )
        return [dict(r) for r in rows.mappings()]


def connections(monkeypatch: pytest.MonkeyPatch, apprise_url: str, slack_url: str) -> None:
    """The credentials live in Airflow connections (env vars here), never in the definition."""
    host = apprise_url.removeprefix("http://")
    monkeypatch.setenv(
        "AIRFLOW_CONN_APPRISE_OPS",
        json.dumps({"conn_type": "apprise", "extra": {"config": {"path": f"json://{host}/notify"}}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_OPS", json.dumps({"conn_type": "slackwebhook", "password": f"{slack_url}/T0/B0/secret"})
    )


def test_a_send_notification_step_reaches_apprise_slack_and_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server() as (apprise_requests, apprise_url), http_server() as (slack_requests, slack_url):
        connections(monkeypatch, apprise_url, slack_url)
        result = run_one_step(
            {"id": "tell", "type": "send_notification",
             "config": {"title": "Deal {{ trigger.new.name }} signed", "body": "Amount {{ trigger.new.amount }}",
                        "level": "success", "recipient": "carla",
                        "channels": ["in_app", "apprise:apprise_ops", "slack:slack_ops"]}}
        )  # fmt: skip
    (apprise_call,) = apprise_requests
    assert apprise_call.path == "/notify"
    assert apprise_call.json()["title"] == "Deal ACME signed"
    assert apprise_call.json()["message"] == "Amount 60000"
    assert apprise_call.json()["type"] == "success"
    (slack_call,) = slack_requests
    assert slack_call.path == "/T0/B0/secret"
    assert "*Deal ACME signed*\nAmount 60000" in slack_call.json()["text"]
    assert [d["status"] for d in result.output["deliveries"]] == ["sent", "sent"]
    assert [(d["channel"], d["status"]) for d in deliveries()] == [
        ("in_app", "sent"), ("apprise:apprise_ops", "sent"), ("slack:slack_ops", "sent")
    ]  # fmt: skip


def test_a_failed_delivery_is_logged_and_a_replay_delivers_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    down = {"on": True}

    def slack(request: Recorded, n: int) -> tuple[int, dict[str, str], bytes]:
        return (500, {}, b"server_error") if down["on"] else (200, {}, b"ok")

    with http_server() as (_, apprise_url), http_server(slack) as (slack_requests, slack_url):
        connections(monkeypatch, apprise_url, slack_url)
        result = run_one_step(
            {"id": "tell", "type": "send_notification",
             "config": {"title": "Invoice overdue", "channels": ["slack:slack_ops"]}}
        )  # fmt: skip
        # a failed channel does not fail the step: its output and the log say so
        assert result.output["deliveries"][0]["status"] == "failed"
        (failed,) = deliveries()
        assert failed["status"] == "failed" and failed["attempt"] == 1
        assert "500" in failed["error"]
        delivery_id = result.output["deliveries"][0]["id"]
        down["on"] = False
        again = replay(delivery_id)
        assert again is not None and again["status"] == "sent"
        assert replay(delivery_id) is None  # sent: nothing to replay
    assert len(slack_requests) == 2  # the failed post, then exactly one replay
    assert slack_requests[0].body == slack_requests[1].body  # the same rendered notice
    assert deliveries() == [{"channel": "slack:slack_ops", "status": "sent", "error": None, "attempt": 2,
                             "title": "Invoice overdue"}]  # fmt: skip


def test_an_apprise_service_that_refuses_is_a_failed_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server(lambda r, n: (503, {}, b"busy")) as (_, apprise_url), http_server() as (_, slack_url):
        connections(monkeypatch, apprise_url, slack_url)
        outcome = deliver("apprise:apprise_ops", Message(title="Low stock", body="3 left"))
    assert outcome["status"] == "failed" and "did not take" in outcome["error"]
    assert deliveries()[0]["status"] == "failed"


def test_a_missing_connection_is_a_failed_delivery_naming_it() -> None:
    outcome = deliver("slack:nowhere", Message(title="x"))
    assert outcome["status"] == "failed"
    assert "'nowhere' is not defined" in outcome["error"]


def test_a_dry_run_sends_to_no_channel_and_logs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from automation.runtime.dry_run import dry_run_report
    from automation.validation import validate_definition
    from tests.helpers import workflow

    with http_server() as (apprise_requests, apprise_url), http_server() as (slack_requests, slack_url):
        connections(monkeypatch, apprise_url, slack_url)
        definition = validate_definition(workflow(
            "t", trigger={"type": "record_event", "entity": "deals", "events": ["updated"]},
            steps=[{"id": "tell", "type": "send_notification",
                    "config": {"title": "Deal {{ trigger.new.name }}", "channels": ["in_app", "slack:slack_ops",
                                                                                    "apprise:apprise_ops"]}}]))  # fmt: skip
        event = {"type": "record_event", "entity": "deals", "event": "updated", "id": 1,
                 "new": {"id": 1, "name": "ACME"}, "old": {"id": 1, "name": "ACM"}}  # fmt: skip
        report = dry_run_report(definition, 1, event)
    (plan,) = report["steps"]
    assert plan["output"]["deliveries"] == [{"channel": "slack:slack_ops", "status": "planned"},
                                            {"channel": "apprise:apprise_ops", "status": "planned"}]  # fmt: skip
    assert apprise_requests == [] and slack_requests == []
    assert deliveries() == []


def test_the_email_channel_mails_the_recipient_through_the_smtp_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers import smtp_server

    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                           "extra": {"disable_ssl": True, "disable_tls": True}}))  # fmt: skip
        result = run_one_step(
            {"id": "tell", "type": "send_notification",
             "config": {"title": "Deal {{ trigger.new.name }} signed", "body": "Well done",
                        "recipient": "carla@example.com", "channels": ["email"]}}
        )  # fmt: skip
    (message,) = mailbox.messages
    assert message["Subject"] == "Deal ACME signed" and mailbox.envelopes == [["carla@example.com"]]
    assert "Well done" in message.get_payload()
    assert result.output["id"] is None  # no in-app row: not one of its channels
    assert [(d["channel"], d["status"]) for d in deliveries()] == [("email", "sent")]
