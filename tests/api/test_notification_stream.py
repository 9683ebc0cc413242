"""GET /api/v1/notifications/stream: Server-Sent Events from a real HTTP server on loopback (uvicorn
running the plugin's app), fed by the Postgres NOTIFY of a stored notification: a client gets its own
and everyone's notifications, not another user's, and a reconnect with Last-Event-ID loses none."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from automation.alerts.send import send_alert
from automation.local.embedded_db import free_port
from tests.actions.conftest import run_one_step

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


@pytest.fixture
def server() -> Iterator[tuple[str, str]]:
    import uvicorn
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from automation.api.app import create_app

    token = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    port = free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    while not runner.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        runner.should_exit = True
        thread.join(timeout=30)


def notify(title: str, recipient: str | None) -> None:
    send_alert(key="crm", dag_id="automation__crm", run_id=None, level="info", title=title, body="", recipients=[],
               recipient=recipient)  # fmt: skip


def events(response: httpx.Response, count: int) -> list[dict[str, Any]]:
    """The next `count` notification events (id and data) of the stream."""
    found: list[dict[str, Any]] = []
    event: dict[str, Any] = {}
    for line in response.iter_lines():
        if line.startswith("id: "):
            event["id"] = line[4:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif not line and "data" in event:
            found.append(event)
            event = {}
            if len(found) == count:
                return found
    return found


def test_a_client_gets_its_notifications_live_and_resumes_after_a_disconnect(server: tuple[str, str]) -> None:
    url, token = server
    headers = {"Authorization": f"Bearer {token}"}
    notify("before the client", "carla")  # not sent: a stream without Last-Event-ID starts now
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        with client.stream("GET", "/api/v1/notifications/stream", params={"recipient": "carla"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            notify("for bob", "bob")
            run_one_step({"id": "tell", "type": "send_notification",
                          "config": {"title": "Deal {{ trigger.new.name }} for carla", "recipient": "carla"}})  # fmt: skip
            stepped = time.monotonic()  # the step committed: its NOTIFY is out
            (first,) = events(response, 1)
            latency = time.monotonic() - stepped
        assert first["data"]["title"] == "Deal ACME for carla"
        assert first["data"]["workflow_key"] == "t" and first["data"]["recipient"] == "carla"
        print(f"notification latency after the step: {latency * 1000:.0f} ms")
        assert latency < 5, latency  # a few ms measured; the bound only catches a lost NOTIFY
        notify("while away", "carla")
        notify("for everyone", None)
        resume = {"Last-Event-ID": first["id"]}
        with client.stream(
            "GET", "/api/v1/notifications/stream", params={"recipient": "carla"}, headers=resume
        ) as again:
            missed = events(again, 2)
    assert [e["data"]["title"] for e in missed] == ["while away", "for everyone"]
    assert [int(e["id"]) for e in missed] == sorted(int(e["id"]) for e in missed)
    assert int(missed[0]["id"]) > int(first["id"])


def test_the_stream_needs_airflow_auth_and_refuses_a_bad_last_event_id(server: tuple[str, str]) -> None:
    url, token = server
    assert httpx.get(f"{url}/api/v1/notifications/stream", timeout=10).status_code in (401, 403)
    bad = httpx.get(f"{url}/api/v1/notifications/stream", timeout=10,
                    headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "1; DROP"})  # fmt: skip
    assert bad.status_code == 422 and "Last-Event-ID" in bad.text
