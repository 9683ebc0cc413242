"""Step notices on their channels through the callbacks Airflow runs (`dag.test()`): `on_start` goes out
when the step starts, a named template gives each channel its own texts, and Apprise (`json://`) and a
Slack incoming webhook on loopback receive them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from automation.factory.build import build_dag
from automation.store.db import engine
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow
from tests.servers import http_server

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def rows(sql: str) -> list[dict[str, Any]]:
    with engine().connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def test_on_start_and_a_templated_failure_reach_slack_apprise_and_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.notification_deliveries RESTART IDENTITY"))
    with (
        http_server(lambda r, n: (400, {}, b'{"error": "bad invoice"}')) as (_, erp_url),
        http_server() as (apprise_posts, apprise_url),
        http_server() as (slack_posts, slack_url),
    ):
        monkeypatch.setenv("AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS", "127.0.0.1")
        monkeypatch.setenv(
            "AIRFLOW_CONN_APPRISE_OPS",
            json.dumps(
                {
                    "conn_type": "apprise",
                    "extra": {"config": {"path": f"json://{apprise_url.removeprefix('http://')}/n"}},
                }
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_SLACK_OPS", json.dumps({"conn_type": "slackwebhook", "password": f"{slack_url}/hook"})
        )
        definition = workflow(
            "notices-channels", name="ERP sync", trigger={"type": "manual"},
            steps=[{"id": "push", "name": "Push to ERP", "type": "http_request", "retries": 0,
                    "config": {"url": f"{erp_url}/invoices", "attempts": 1},
                    "notify": {"on_start": {"template": "step-started", "channels": ["slack:slack_ops"],
                                            "notification": False},
                               "on_failure": {"template": "step-failed", "recipient": "ops",
                                              "channels": ["apprise:apprise_ops", "slack:slack_ops"]}}}],
        )  # fmt: skip
        Repository().create(validate_definition(definition))
        stored = Repository().get("notices-channels")
        run = build_dag(validate_definition(stored.with_status()), stored.version).test()
    assert run.state == "failed"
    started, failed = (json.loads(p.body)["text"] for p in slack_posts)
    assert started.startswith(":information_source: *ERP sync: Push to ERP started*")
    # the template's Slack texts
    assert "*:x: ERP sync / Push to ERP*\nfailed after 1 attempts: `" in failed and "400" in failed
    (apprise,) = (json.loads(p.body) for p in apprise_posts)
    assert apprise["title"] == "ERP sync: step Push to ERP failed"  # the template's own title
    assert apprise["message"].startswith("Gave up after attempt 1 of 1. Error: ") and apprise["type"] == "failure"
    (in_app,) = rows("SELECT title, recipient, level FROM automation.notifications")
    assert in_app == {"title": "ERP sync: step Push to ERP failed", "recipient": "ops", "level": "error"}
    assert [(d["channel"], d["status"]) for d in rows(
        "SELECT channel, status FROM automation.notification_deliveries ORDER BY id")] == [
        ("slack:slack_ops", "sent"), ("in_app", "sent"), ("apprise:apprise_ops", "sent"), ("slack:slack_ops", "sent")
    ]  # fmt: skip
