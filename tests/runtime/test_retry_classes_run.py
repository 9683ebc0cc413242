"""The retry policy per error class in real Airflow runs (`dag.test()`: the scheduler's retry logic, tasks
in-process): a loopback server answering 503, 429 or 400 gets as many attempts as each class's rule allows."""

from __future__ import annotations

from typing import Any

import pytest

from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.runtime.test_dag_run import stored_dag
from tests.servers import Recorded, http_server

pytestmark = pytest.mark.usefixtures("db", "airflow_db")


def test_503_429_and_400_get_the_attempts_of_their_class() -> None:
    def respond(request: Recorded, n: int) -> tuple[int, dict[str, str], bytes]:
        return {"/unavailable": 503, "/busy": 429, "/bad": 400}[request.path], {}, b"{}"

    with http_server(respond) as (requests, base):
        steps: list[dict[str, Any]] = [
            {"id": name, "type": "http_request", "depends_on": [],
             "config": {"url": f"{base}/{name}", "method": "GET", "attempts": 1}}
            for name in ("unavailable", "busy", "bad")
        ]  # fmt: skip
        data = {
            "key": "retry-classes",
            "name": "Retry classes",
            "status": "ACTIVE",
            "trigger": {"type": "manual"},
            "settings": {
                "retries": 0,
                "retry_policy": {
                    "server_error": {"retries": 3, "delay": 1, "backoff": 1},
                    "rate_limited": {"retries": 1, "delay": 1},
                },
            },
            "steps": steps,
        }
        Repository().create(validate_definition(data))
        run = stored_dag("retry-classes").test()
    counts = {path: sum(1 for r in requests if r.path == path) for path in ("/unavailable", "/busy", "/bad")}
    assert counts == {"/unavailable": 4, "/busy": 2, "/bad": 1}
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == {
        "unavailable": "failed",
        "busy": "failed",
        "bad": "failed",
    }
