"""Skipping a failed step server-side (a real `dag.test()` run on the test Postgres): the execution page's
form and the executions API mark it skipped in Airflow with the person's note and name, clear the steps it
held back, and the execution keeps who skipped it, when and why."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.insights.conftest import failing_workflow

pytestmark = pytest.mark.usefixtures("db", "airflow_db")
KEY = "ins-skip"


def _with_a_step_after(key: str) -> dict[str, Any]:
    data = failing_workflow(key)
    data["steps"].append(
        {"id": "after", "type": "create_record", "depends_on": ["close_missing"],
         "config": {"collection": "activities", "values": {"body": "after", "entity": "deals", "entity_id": 1}}}
    )  # fmt: skip
    return data


@pytest.fixture
def client() -> Iterator[TestClient]:
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from automation.api.app import create_app

    token = init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    with TestClient(create_app(), raise_server_exceptions=False, base_url="http://testserver") as test_client:
        test_client.cookies.set("_token", token)
        test_client.headers["Origin"] = "http://testserver"
        yield test_client


def _ti_note(dag_id: str, run_id: str, task_id: str) -> tuple[str | None, str | None]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
        )
        note = ti.task_instance_note
        return (note.content, note.user_id) if note else (None, None)


def test_a_failed_step_is_skipped_with_a_note_and_the_steps_after_it_run_again(
    create: Any, run_workflow: Any, client: TestClient
) -> None:
    create(_with_a_step_after(KEY))
    run = run_workflow(KEY, deal_id=616161)
    assert run.state == "failed"
    page_path = f"/ui/workflows/{KEY}/executions/{quote(run.run_id, safe='')}"
    page = client.get(page_path)
    assert page.status_code == 200 and 'aria-label="Skip close_missing and go on"' in page.text
    assert "/api/v2/" not in page.text  # the page no longer calls Airflow's REST API itself
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token

    form = {"csrf_token": token[1], "map_index": "-1", "note": "Deal <gone>, closing by hand"}
    skipped = client.post(f"{page_path}/steps/close_missing/skip", data=form, follow_redirects=False)
    assert skipped.status_code == 303 and skipped.headers["location"].endswith("done=skipped")

    api = f"/api/v1/workflows/{KEY}/executions/{quote(run.run_id, safe='')}"
    detail = client.get(api).json()
    states = {s["step_id"]: s["state"] for s in detail["steps"]}
    assert states["close_missing"] == "skipped" and states["note"] == "success"
    assert states["after"] is None  # cleared: the scheduler runs it (its upstream is skipped, none failed)
    assert detail["status"] == "queued"
    [skip] = detail["skips"]
    assert (skip["step_id"], skip["by"], skip["note"]) == ("close_missing", "admin", "Deal <gone>, closing by hand")
    assert skip["at"]
    assert _ti_note(f"automation__{KEY}", run.run_id, "close_missing") == ("Deal <gone>, closing by hand", "admin")
    shown = client.get(page_path).text
    assert "Skipped by admin" in shown and "<q>Deal &lt;gone&gt;, closing by hand</q>" in shown

    # only a failed step is skipped; an unknown step, a long note, a forged post are refused
    again = client.post(f"{api}/steps/close_missing/skip", json={})
    assert again.status_code == 409 and "only a failed step" in again.json()["detail"]
    assert (
        client.post(f"{page_path}/steps/close_missing/skip", data=form, follow_redirects=False)
        .headers["location"]
        .endswith("done=not-skipped")
    )
    missing = client.post(f"{api}/steps/nope/skip")
    assert missing.status_code == 404 and missing.json()["errors"][0]["path"] == "step_id"
    assert client.post(f"{api}/steps/after/skip", json={"note": "x" * 501}).status_code == 422
    forged = client.post(f"{page_path}/steps/after/skip", data={**form, "csrf_token": "1.x"}, follow_redirects=False)
    assert forged.status_code == 403
