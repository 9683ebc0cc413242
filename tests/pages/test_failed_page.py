"""The failed runs page over real `dag.test()` runs, as a browser would use it (the UI's session
cookie, same-origin posts with the page's CSRF token), under the tests' per-DAG auth manager:
`crm-editor` reads every workflow and changes only `crm-*` runs; a viewer reads and retries nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from automation.factory.build import build_dag
from automation.insights.executions import FailedExecution, FailedList, FailedStep
from automation.pages.failed_page import Filters
from automation.pages.render import render
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.e2e.per_dag_auth import WRITE_RESTRICTED_USER
from tests.insights.conftest import failing_workflow
from tests.pages.test_render import html, request

CRM, OPS = "crm-failing", "ops-failing"


def _user(name: str, role: str) -> Any:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManagerUser(username=name, role=role)


def _failed_run(key: str, deal_id: int) -> str:
    Repository().create(validate_definition(failing_workflow(key)))
    stored = Repository().get(key)
    run = build_dag(validate_definition(stored.with_status()), stored.version).test(run_conf={"deal_id": deal_id})
    assert run.state == "failed"
    return str(run.run_id)


@pytest.fixture
def runs(db: None, airflow_db: None) -> dict[str, str]:
    return {CRM: _failed_run(CRM, 919191), OPS: _failed_run(OPS, 929292)}


@pytest.fixture
def browser() -> Iterator[Any]:
    """A browser-like client; `as_user(name, role)` signs it in as that user (the UI's cookie)."""
    from airflow.api_fastapi.app import init_auth_manager

    from automation.api.app import create_app

    manager = init_auth_manager()
    with TestClient(create_app(), raise_server_exceptions=False, base_url="http://testserver") as client:
        client.headers["Origin"] = "http://testserver"

        def as_user(name: str, role: str) -> TestClient:
            client.cookies.set("_token", manager.generate_jwt(_user(name, role)))
            return client

        yield as_user


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found[1]


def test_the_page_lists_failed_runs_and_retries_a_confirmed_selection_per_dag(runs, browser) -> None:
    editor = browser(WRITE_RESTRICTED_USER, "user")
    page = editor.get("/ui/failed")
    assert page.status_code == 200, page.text
    assert "2 failed executions" in page.text and 'aria-current="page">Failed runs' in page.text
    assert f'value="{CRM}/{runs[CRM]}"' in page.text  # a checkbox on the run it may change...
    assert f'value="{OPS}/{runs[OPS]}"' not in page.text and "read only" in page.text  # ...none on the other
    assert "<code>close_missing</code>" in page.text and "919191" in page.text  # the step and its error

    filtered = editor.get("/ui/failed", params={"workflow": OPS, "since": "2020-01-01"}).text
    assert "1 failed execution<" in filtered and runs[CRM] not in filtered
    assert "No failed executions match" in editor.get("/ui/failed", params={"until": "2020-01-01"}).text
    bad = editor.get("/ui/failed", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since: a day is written YYYY-MM-DD" in bad.text
    assert editor.get("/ui/failed", params={"workflow": "nope"}).status_code == 404
    assert editor.get("/ui/failed", params={"until": "9999-12-31"}).status_code == 400
    assert editor.get("/ui/failed", params={"event_id": "-1"}).status_code == 400
    assert editor.get("/ui/failed", params={"entity": "a\x00"}).status_code == 400

    # the first post asks to confirm; nothing is retried yet
    selection = {"csrf_token": _csrf(page.text), "run": [f"{CRM}/{runs[CRM]}", f"{OPS}/{runs[OPS]}"]}
    confirm = editor.post("/ui/failed/retry", data=selection)
    assert confirm.status_code == 200 and "Retry 2 executions?" in confirm.text
    assert runs[CRM] in editor.get("/ui/failed").text
    done = editor.post("/ui/failed/retry", data={**selection, "csrf_token": _csrf(confirm.text), "confirmed": "yes"})
    assert done.status_code == 200 and "Retried 1 of 2" in done.text
    assert re.search(rf'data-run="{re.escape(runs[CRM])}" data-outcome="retried"', done.text)
    assert re.search(rf'data-run="{re.escape(runs[OPS])}" data-outcome="not_allowed"', done.text)
    after = editor.get("/ui/failed").text
    assert runs[CRM] not in after and runs[OPS] in after  # the retried run left the dead letters

    # a post without the page's token, or by a viewer, changes nothing
    assert editor.post("/ui/failed/retry", data={"run": f"{OPS}/{runs[OPS]}", "confirmed": "yes"}).status_code == 403
    viewer = browser("viewer", "viewer")
    assert viewer.get("/ui/failed").status_code == 200
    refused = viewer.post("/ui/failed/retry", data={**selection, "confirmed": "yes"})
    assert refused.status_code == 403 and "Not allowed" in refused.text
    too_many = {"csrf_token": _csrf(after), "run": [f"{CRM}/r{n}" for n in range(101)]}
    assert "at most 100" in browser(WRITE_RESTRICTED_USER, "user").post("/ui/failed/retry", data=too_many).text


def test_errors_and_event_values_are_escaped() -> None:
    started = datetime(2026, 12, 1, 9, tzinfo=UTC)
    execution = FailedExecution(
        key="wf", dag_id="automation__wf", run_id="r1", status="failed", run_type="asset_triggered",
        started_at=started, ended_at=started, duration_s=1.5, version=1, airflow_url="/dags/automation__wf/runs/r1",
        event={"event_id": 7, "entity": "deals", "id": "<i>42</i>", "event": "updated"},
        failed_steps=[FailedStep(step_id="call", task_id="call", state="failed", error="<script>x</script>",
                                 error_class="HttpError"),
                      FailedStep(step_id="later", task_id="later", state="upstream_failed")],
    )  # fmt: skip
    page = html(
        render(
            request("/automation/ui/failed"),
            "failed.html",
            filters=Filters({}),
            page_size=50,
            csrf_token="t",
            nav="failed",
            found=FailedList(total=1, executions=[execution]),
            choices=["wf"],
            changeable=set(),
        )
    )
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "&lt;i&gt;42&lt;/i&gt;" in page and "(upstream failed)" in page
    assert 'type="checkbox"' not in page and "Retry selected" not in page  # nothing the user may change
