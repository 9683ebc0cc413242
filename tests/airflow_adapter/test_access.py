"""`airflow_adapter.access` against the installed Airflow's auth: `get_user` (bearer token and the UI's
session cookie), `requires_access_dag` / `requires_access_asset`, the auth manager's `is_authorized_dag`,
`DagDetails` / `DagAccessEntity` and the cookie's name. The auth manager is the tests' own
(tests/e2e/per_dag_auth.py: Airflow's simple auth manager, where `sales` may only read `automation__crm-*`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from automation.airflow_adapter import access

pytestmark = pytest.mark.usefixtures("airflow_db")


def user(name: str, role: str) -> Any:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManagerUser(username=name, role=role)


@pytest.fixture(scope="module")
def manager() -> Any:
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


@pytest.fixture(scope="module")
def client(manager: Any) -> Iterator[TestClient]:
    app = FastAPI()

    @app.get("/workflows/{key}", dependencies=[access.dag_access("GET")])
    def read(key: str) -> dict[str, str]:
        return {"key": key}

    @app.put("/workflows/{key}", dependencies=[access.dag_access("PUT")])
    def edit(key: str) -> dict[str, str]:
        return {"key": key}

    @app.get("/workflows/{key}/executions", dependencies=[access.run_access("GET")])
    def runs(key: str) -> dict[str, str]:
        return {"key": key}

    @app.post("/events", dependencies=[access.asset_access("POST")])
    def events() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/me")
    def me(who: Annotated[Any, access.current_user()]) -> dict[str, Any]:
        return {"id": who.get_id(), "may_edit": access.allowed(who, "PUT")}

    with TestClient(app) as test_client:
        yield test_client


def bearer(manager: Any, name: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {manager.generate_jwt(user(name, role))}"}


def test_the_signed_in_user_from_a_token_or_the_ui_cookie(client: TestClient, manager: Any) -> None:
    assert client.get("/me", headers=bearer(manager, "admin", "admin")).json() == {"id": "admin", "may_edit": True}
    cookie = {access.session_cookie_name(): manager.generate_jwt(user("viewer", "viewer"))}
    assert client.get("/me", cookies=cookie).json() == {"id": "viewer", "may_edit": False}
    client.cookies.clear()
    assert client.get("/me").status_code == 401


def test_per_workflow_dag_checks(client: TestClient, manager: Any) -> None:
    sales, viewer = bearer(manager, "sales", "viewer"), bearer(manager, "viewer", "viewer")
    assert client.get("/workflows/crm-leads", headers=sales).status_code == 200
    assert client.get("/workflows/ops-cleanup", headers=sales).status_code == 403  # not its DAG
    assert client.get("/workflows/ops-cleanup/executions", headers=sales).status_code == 403
    assert client.get("/workflows/ops-cleanup/executions", headers=viewer).status_code == 200
    assert client.put("/workflows/crm-leads", headers=viewer).status_code == 403  # viewers do not edit
    assert client.put("/workflows/crm-leads", headers=bearer(manager, "admin", "admin")).status_code == 200


def test_posting_events_is_posting_asset_events(client: TestClient, manager: Any) -> None:
    assert client.post("/events", headers=bearer(manager, "viewer", "viewer")).status_code == 403
    assert client.post("/events", headers=bearer(manager, "admin", "admin")).status_code == 200


@pytest.mark.usefixtures("db")
def test_the_workflows_a_user_may_read(manager: Any) -> None:
    sales, admin = user("sales", "viewer"), user("admin", "admin")
    keys = ["crm-leads", "ops-cleanup"]
    assert access.readable_keys(sales, keys) == {"crm-leads"}
    assert access.readable_keys(admin, keys, access.run_entity()) == set(keys)
    assert access.runs_readable_by(sales, keys) == ["crm-leads"]
    assert access.runs_readable_by(admin, keys) == keys
    assert access.runs_readable_by(admin, None) is None  # all of them (none stored here)
