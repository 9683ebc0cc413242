"""GET /api/v1/notifications, mark read, replay: the delivery log through the plugin's API (in-process,
Airflow's auth), with a loopback Slack webhook that fails first."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from automation.alerts.send import send_alert
from automation.store.db import engine
from tests.helpers import admin_api
from tests.servers import Recorded, http_server

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


@pytest.fixture
def api() -> Iterator[TestClient]:
    with engine().begin() as conn:
        conn.execute(text("TRUNCATE automation.notification_deliveries RESTART IDENTITY"))
    with admin_api() as client:
        yield client


def test_a_failed_delivery_is_listed_and_a_replay_delivers_it_once(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = {"on": True}

    def slack(request: Recorded, n: int) -> tuple[int, dict[str, str], bytes]:
        return (503, {}, b"busy") if down["on"] else (200, {}, b"ok")

    with http_server(slack) as (posts, url):
        monkeypatch.setenv(
            "AIRFLOW_CONN_SLACK_OPS", json.dumps({"conn_type": "slackwebhook", "password": f"{url}/hook"})
        )
        send_alert(key="erp-sync", dag_id="automation__erp-sync", run_id="r1", level="error", title="ERP push failed",
                   body="503 from the ERP", recipients=[], recipient="ops", channels=["slack:slack_ops"])  # fmt: skip
        page = api.get("/api/v1/notifications", params={"workflow": "erp-sync"}).json()
        by_channel = {n["channel"]: n for n in page["notifications"]}
        assert by_channel["in_app"]["status"] == "sent" and by_channel["in_app"]["recipient"] == "ops"
        failed = by_channel["slack:slack_ops"]
        assert (failed["status"], failed["attempt"], failed["title"]) == ("failed", 1, "ERP push failed")
        assert "503" in failed["error"]
        listed = api.get("/api/v1/notifications", params={"status": "failed"}).json()["notifications"]
        assert [n["id"] for n in listed] == [failed["id"]]

        down["on"] = False
        replayed = api.post(f"/api/v1/notifications/{failed['id']}/replay")
        assert replayed.status_code == 200
        assert (replayed.json()["status"], replayed.json()["attempt"], replayed.json()["error"]) == ("sent", 2, None)
        again = api.post(f"/api/v1/notifications/{failed['id']}/replay")
        assert again.status_code == 409
    assert len(posts) == 2  # the failed post and one replay
    assert api.get("/api/v1/notifications", params={"status": "failed"}).json()["notifications"] == []


def test_mark_read_and_the_unread_filter(api: TestClient) -> None:
    for title in ("one", "two"):
        send_alert(key="crm", dag_id="automation__crm", run_id=None, level="info", title=title, body="",
                   recipients=[], recipient="carla")  # fmt: skip
    unread = api.get("/api/v1/notifications", params={"recipient": "carla", "unread": True}).json()["notifications"]
    assert [n["title"] for n in unread] == ["two", "one"]
    read = api.post(f"/api/v1/notifications/{unread[0]['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"]
    left = api.get("/api/v1/notifications", params={"recipient": "carla", "unread": True}).json()["notifications"]
    assert [n["title"] for n in left] == ["one"]
    with engine().connect() as conn:  # the in-app notification is read too
        titles = conn.execute(text("SELECT title FROM automation.notifications WHERE read_at IS NOT NULL")).scalars()
        assert list(titles) == ["two"]
    assert api.get("/api/v1/notifications", params={"recipient": "bob"}).json() == {"notifications": [],
                                                                                    "next_before": None}  # fmt: skip


def test_bad_input_is_a_4xx_naming_the_field(api: TestClient) -> None:
    bad = api.get("/api/v1/notifications", params={"status": "lost", "limit": 0})
    assert bad.status_code == 422
    assert "status" in bad.text and "limit" in bad.text
    assert api.post("/api/v1/notifications/999/replay").status_code == 404
    assert api.post("/api/v1/notifications/999/read").status_code == 404
    assert api.post("/api/v1/notifications/0/read").status_code == 422


def test_the_log_needs_airflow_auth() -> None:
    from fastapi.testclient import TestClient as Client

    from automation.api.app import create_app

    with Client(create_app(), raise_server_exceptions=False) as anonymous:
        assert anonymous.get("/api/v1/notifications").status_code in (401, 403)
