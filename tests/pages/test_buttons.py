"""The workflow buttons follow the auth manager per DAG: under a per-DAG rule (tests/e2e/per_dag_auth.py:
`crm-editor` reads every DAG and changes only `automation__crm-*`), the list, detail and execution pages
show write buttons only on the workflows whose DAG the user may change, and the routes refuse the others."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from automation.errors import Issue
from automation.pages import auth
from automation.pages.workflow_actions import typed_inputs
from tests.e2e.per_dag_auth import WRITE_RESTRICTED_USER
from tests.helpers import workflow

CRM, OPS = "crm-leads", "ops-cleanup"


def _user(name: str, role: str) -> Any:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManagerUser(username=name, role=role)


@pytest.fixture
def editor(db: None, airflow_db: None) -> Iterator[TestClient]:
    """A browser-like client of `crm-editor` (role user: may edit DAGs), with a CRM and an ops workflow."""
    from airflow.api_fastapi.app import init_auth_manager

    from automation.api.app import create_app

    manager = init_auth_manager()
    with TestClient(create_app(), raise_server_exceptions=False, base_url="http://testserver") as client:
        client.cookies.set("_token", manager.generate_jwt(_user("admin", "admin")))
        for key in (CRM, OPS):
            assert client.post("/api/v1/workflows", json=workflow(key)).status_code == 201
        client.cookies.set("_token", manager.generate_jwt(_user(WRITE_RESTRICTED_USER, "user")))
        client.headers["Origin"] = "http://testserver"
        yield client


def _buttons(page: str, key: str) -> set[str]:
    """The write buttons and links the page offers on workflow `key`."""
    labels = re.findall(rf'aria-label="(Edit|Duplicate|Activate|Deactivate|Delete) {re.escape(key)}"', page)
    runs = 'id="run-now"' in page or f'aria-label="Run {key} now"' in page or "Run now in Airflow" in page
    return set(labels) | ({"Run now"} if runs else set())


def test_write_buttons_show_only_on_the_workflow_whose_dag_the_user_may_change(editor: TestClient) -> None:
    listing = editor.get("/ui/workflows")
    assert listing.status_code == 200
    assert f">{CRM}</code>" in listing.text and f">{OPS}</code>" in listing.text  # both readable
    assert _buttons(listing.text, CRM) == {"Edit", "Duplicate", "Deactivate", "Delete"}
    assert _buttons(listing.text, OPS) == set()
    assert "New workflow" in listing.text  # creating names no DAG yet: the role decides

    crm = editor.get(f"/ui/workflows/{CRM}").text
    assert _buttons(crm, CRM) == {"Edit", "Duplicate", "Deactivate", "Delete", "Run now"}
    ops = editor.get(f"/ui/workflows/{OPS}")
    assert ops.status_code == 200 and _buttons(ops.text, OPS) == set() and "csrf_token" not in ops.text

    # what the pages hide, the routes refuse
    assert editor.get(f"/ui/workflows/{OPS}/edit").status_code == 403
    assert editor.get(f"/ui/workflows/{CRM}/edit").status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', crm)
    assert token
    refused = editor.post(f"/ui/workflows/{OPS}/deactivate", data={"csrf_token": token[1]})
    assert refused.status_code == 403
    assert editor.get(f"/api/v1/workflows/{OPS}").json()["status"] == "ACTIVE"


@pytest.mark.usefixtures("editor")
def test_the_execution_pages_buttons_follow_the_runs_of_that_dag() -> None:
    user = _user(WRITE_RESTRICTED_USER, "user")
    assert auth.allowed(user, "PUT", CRM, runs=True) is True  # retry, cancel, skip on a CRM run
    assert auth.allowed(user, "PUT", OPS, runs=True) is False
    assert auth.allowed(user, "GET", OPS, runs=True) is True  # it still reads the run
    assert auth.allowed(_user("viewer", "viewer"), "PUT", CRM, runs=True) is False


def test_run_now_asks_for_a_manual_triggers_inputs_and_shows_each_problem_at_its_field(editor: TestClient) -> None:
    """The Run now page of a manual workflow: a field per input, typed by the input's type; what cannot
    start is said on the form (200), not as an error document; a user who may not run the DAG gets 403."""
    assert editor.get(f"/ui/workflows/{OPS}/run").status_code == 403
    page = editor.get(f"/ui/workflows/{CRM}/run")
    assert page.status_code == 200 and '<label for="f-input-name">name' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    assert editor.post(f"/ui/workflows/{OPS}/run", data={"csrf_token": token[1], "input.name": "x"}).status_code == 403
    assert editor.post(f"/ui/workflows/{CRM}/run", data={"input.name": "x"}).status_code == 403  # no token

    missing = editor.post(f"/ui/workflows/{CRM}/run", data={"csrf_token": token[1], "input.name": ""})
    assert missing.status_code == 200 and 'id="f-input-name-error">required</p>' in missing.text
    assert 'aria-invalid="true"' in missing.text
    # past the checks, Airflow has no DAG for it here (no DAG processor in this test): said on the form
    refused = editor.post(f"/ui/workflows/{CRM}/run", data={"csrf_token": token[1], "input.name": "<b>Acme</b>"})
    assert (
        refused.status_code == 200
        and "Not started: Airflow does not have the DAG automation__crm-leads" in refused.text
    )
    assert 'value="&lt;b&gt;Acme&lt;/b&gt;"' in refused.text  # what was typed is kept, escaped


def test_the_run_forms_fields_become_typed_inputs() -> None:
    declared = {
        "name": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "urgent": {"type": "boolean"},
        "tags": {"type": "array"},
        "extra": {"type": "object"},
    }
    fields = {"input.name": "Acme", "input.count": " 3 ", "input.ratio": "0.5", "input.urgent": "on",
              "input.tags": '["a", "b"]', "input.extra": ""}  # fmt: skip
    assert typed_inputs(declared, fields) == (
        {"name": "Acme", "count": 3, "ratio": 0.5, "urgent": True, "tags": ["a", "b"]},
        [],
    )
    values, issues = typed_inputs(declared, {"input.count": "three", "input.tags": "{}", "input.extra": "[1"})
    assert values == {"urgent": False}  # an unchecked box is false; the rest did not parse
    assert [i.path for i in issues] == ["inputs.count", "inputs.tags", "inputs.extra"]
    assert issues[0] == Issue("inputs.count", "expected a whole number")
