"""The HTTP egress allow-list (`[automation] http_allowed_hosts`) covers the channels whose URL a
connection chooses: a Slack webhook and Apprise's `json://`-style webhooks to a host not listed get
nothing, and the delivery log says why without the URL's token. The tests' allow-list is 127.0.0.1;
127.0.0.2 stands for a host nobody listed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from automation.channels import Message, deliver
from automation.store.db import engine
from tests.servers import http_server

pytestmark = pytest.mark.usefixtures("db")
UNLISTED = "127.0.0.2"


@pytest.fixture(autouse=True)
def clean_log() -> Iterator[None]:
    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.notification_deliveries RESTART IDENTITY"))
    yield


def logged() -> list[dict[str, Any]]:
    with engine().connect() as conn:
        rows = conn.execute(text("SELECT channel, status, error FROM automation.notification_deliveries ORDER BY id"))
        return [dict(r) for r in rows.mappings()]


def apprise_connection(monkeypatch: pytest.MonkeyPatch, *urls: str) -> None:
    config = [{"path": url} for url in urls]
    monkeypatch.setenv("AIRFLOW_CONN_APPRISE_OPS", json.dumps({"conn_type": "apprise", "extra": {"config": config}}))


def test_a_slack_webhook_to_an_unlisted_host_gets_nothing_and_the_log_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with http_server(host=UNLISTED) as (requests, base):
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_OPS", json.dumps({"conn_type": "slackwebhook",
                                                                 "password": f"{base}/T0/B0/s3cr3t"}))  # fmt: skip
        outcome = deliver("slack:slack_ops", Message(title="Deal signed"))
    assert requests == []
    assert outcome["status"] == "failed"
    ((row),) = logged()
    assert row["status"] == "failed" and row["error"] == outcome["error"]
    assert "Slack webhook 'slack_ops'" in row["error"] and f"{UNLISTED!r} is not in the allow-list" in row["error"]
    assert "http_allowed_hosts" in row["error"] and "s3cr3t" not in row["error"]


def test_a_slack_webhook_allowed_by_the_list_is_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", f"127.0.0.1,{UNLISTED}")
    with http_server(host=UNLISTED) as (requests, base):
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_OPS", json.dumps({"conn_type": "slackwebhook",
                                                                 "password": f"{base}/T0/B0/s3cr3t"}))  # fmt: skip
        outcome = deliver("slack:slack_ops", Message(title="Deal signed"))
    assert outcome["status"] == "sent" and [r.path for r in requests] == ["/T0/B0/s3cr3t"]


@pytest.mark.parametrize("scheme", ["json", "xml", "form"])
def test_an_apprise_webhook_to_an_unlisted_host_sends_to_none_of_the_connections_services(
    monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    with http_server() as (listed_requests, listed), http_server(host=UNLISTED) as (unlisted_requests, unlisted):
        # the listed service comes first: the check of every URL happens before anything goes out
        apprise_connection(monkeypatch, f"json://{listed.removeprefix('http://')}/ok",
                           f"{scheme}://ops:pa55word@{unlisted.removeprefix('http://')}/notify")  # fmt: skip
        outcome = deliver("apprise:apprise_ops", Message(title="Low stock", body="3 left"))
    assert listed_requests == [] and unlisted_requests == []
    ((row),) = logged()
    assert row["status"] == "failed" and "Apprise connection 'apprise_ops'" in row["error"]
    assert f"{UNLISTED!r} is not in the allow-list" in row["error"] and "nothing was sent" in row["error"]
    assert "pa55word" not in row["error"] and outcome["error"] == row["error"]
