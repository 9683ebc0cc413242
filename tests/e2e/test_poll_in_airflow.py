"""End to end: a poll workflow in the real Airflow. Its poll DAG, run twice against a loopback API whose
pages overlap, stores each item once, and the emitter and the scheduler make exactly one run per item."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import AirflowApi, wait_for
from tests.e2e.test_events_in_airflow import import_workflows, sql
from tests.servers import Recorded, http_server

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]

TOKEN = "e2e-poll-token"
POLLED = {
    "key": "polled-orders", "name": "Polled orders", "status": "ACTIVE",
    "trigger": {"type": "poll", "conn_id": "e2e_orders_api", "path": "/orders", "items_path": "orders",
                "cron": "0 0 1 1 *"},
    "settings": {"retries": 0},
    "steps": [{"id": "log", "type": "add_note", "config": {"entity": "orders", "entity_id": "{{ trigger.id }}",
                                                           "body": "order {{ trigger.item.ref }}"}}],
}  # fmt: skip


def poll_once(airflow: AirflowApi) -> None:
    run = airflow.post("/dags/automation__polled-orders__scan/dagRuns", {"logical_date": None})
    path = f"/dags/automation__polled-orders__scan/dagRuns/{run['dag_run_id']}"
    wait_for(lambda: airflow.get(path)["state"] in ("success", "failed"), 120, "the poll")
    assert airflow.get(path)["state"] == "success"


def test_two_polls_with_overlapping_pages_run_each_item_once(airflow: AirflowApi, tmp_path) -> None:
    window = {"first": 1, "last": 3}

    def orders(request: Recorded, n: int) -> tuple[int, dict[str, str], bytes]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, b"{}"
        page = [{"id": i, "ref": f"SO-{i}"} for i in range(window["first"], window["last"] + 1)]
        return 200, {}, json.dumps({"orders": page}).encode()

    with http_server(orders) as (requests, base):
        created = airflow.client.post(
            "/api/v2/connections",
            json={"connection_id": "e2e_orders_api", "conn_type": "http", "host": base, "password": TOKEN},
        )
        if created.status_code == 409:  # a rerun on the same stack: the server's port changed
            created = airflow.client.patch(
                "/api/v2/connections/e2e_orders_api",
                json={"connection_id": "e2e_orders_api", "conn_type": "http", "host": base, "password": TOKEN},
            )
        assert created.status_code in (200, 201), created.text
        import_workflows(tmp_path, airflow, POLLED)
        wait_for(lambda: airflow.dag("automation__polled-orders__scan"), 60, "the poll DAG")
        poll_once(airflow)
        window.update(first=2, last=5)
        poll_once(airflow)
        # Airflow also runs the cron's latest slot once when the DAG appears: one more overlapping poll
        assert len(requests) >= 2

    def notes() -> list[str]:
        return sorted(r["body"] for r in sql("SELECT body FROM crm.activities WHERE body LIKE 'order %'"))

    wait_for(lambda: len(notes()) >= 5, 180, "one run per polled order")
    time.sleep(5)  # a second run of an item would show up by now
    assert notes() == [f"order SO-{i}" for i in range(1, 6)]
    events: list[dict[str, Any]] = sql(
        "SELECT entity_id FROM automation.events WHERE entity = 'poll' AND event = 'polled-orders' ORDER BY id"
    )
    assert [e["entity_id"] for e in events] == ["1", "2", "3", "4", "5"]
    assert airflow.runs("automation__polled-orders") == 5
