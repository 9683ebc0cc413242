"""A real Airflow 3.3 (api-server, scheduler, dag-processor, triggerer) on the test Postgres."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from automation.local.stack import AirflowProcesses
from tests.conftest import API_PORT, ENV, ROOT, TMP


class AirflowApi:
    """Airflow's own REST API, logged in with a JWT from /auth/token."""

    procs: AirflowProcesses

    def __init__(self, base: str, username: str = "admin", password: str = "admin") -> None:
        self.base = base
        token = httpx.post(f"{base}/auth/token", json={"username": username, "password": password}, timeout=120)
        token.raise_for_status()
        self.client = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=120,  # a loaded 2-core machine stalls Airflow for tens of s
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"/api/v2{path}", params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(f"/api/v2{path}", json=body)
        response.raise_for_status()
        return response.json()

    def runs(self, dag_id: str, state: str | None = None) -> int:
        params = {"limit": 1, **({"state": state} if state else {})}
        return self.get(f"/dags/{dag_id}/dagRuns", **params)["total_entries"]

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self.client.get(f"/api/v2/dags/{dag_id}")
        return response.json() if response.status_code == 200 else None

    def schedule_registered(self, dag_id: str) -> bool:
        """The DAG is known and every asset its schedule names is active with the DAG among its consumers:
        an event emitted now starts a run (what the tests used to sleep 3 s for after the DAG showed)."""
        response = self.client.get(f"/api/v2/dags/{dag_id}/details")
        if response.status_code != 200:
            return False
        wanted = _asset_uris(response.json().get("asset_expression"))
        if not wanted:
            return True
        assets = self.get("/assets", dag_ids=dag_id, limit=100)["assets"]
        consumed = {a["uri"] for a in assets if any(d["dag_id"] == dag_id for d in a["scheduled_dags"])}
        return wanted <= consumed


def _asset_uris(expression: Any) -> set[str]:
    """The asset URIs an `asset_expression` of the DAG details names (`{"asset": ...}`, `{"any": [...]}`)."""
    if isinstance(expression, dict):
        asset = expression.get("asset")
        if isinstance(asset, dict) and "uri" in asset:
            return {asset["uri"]}
        return set().union(*(_asset_uris(value) for value in expression.values()))
    if isinstance(expression, list):
        return set().union(*(_asset_uris(value) for value in expression))
    return set()


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def wait_for_schedule(airflow: AirflowApi, *dag_ids: str, timeout: float = 90) -> None:
    """Until each DAG shows and its schedule's assets are registered with it (`schedule_registered`)."""
    for dag_id in dag_ids:
        wait_for(
            lambda dag_id=dag_id: airflow.schedule_registered(dag_id), timeout, f"the DAG {dag_id} with its assets", 0.5
        )


@pytest.fixture(scope="session")
def airflow(airflow_db: None, migrated: None) -> Iterator[AirflowApi]:
    procs = AirflowProcesses(ENV, TMP / "logs").start()
    base = f"http://127.0.0.1:{API_PORT}"

    def healthy() -> bool:
        assert not procs.dead(), f"Airflow process died: {procs.dead()}\n{procs.log_tail(procs.dead()[0])}"
        try:
            return httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, 180, "the Airflow api-server")
        api = AirflowApi(base)
        api.procs = procs
        yield api
    finally:
        procs.stop()
        artifacts = ROOT / "test-artifacts" / "airflow-logs"  # kept for a look after a failure
        shutil.rmtree(artifacts, ignore_errors=True)
        shutil.copytree(TMP / "logs", artifacts, dirs_exist_ok=True)
