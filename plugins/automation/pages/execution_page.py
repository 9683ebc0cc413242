"""One execution of a workflow: its trigger event, pinned version, a timeline of its steps with each
step's queueing, attempts and what a waiting step waits on (a wait, the rate limit, the ordering, an
approval: who may answer, with Airflow's page to answer it), config (as written in the pinned version),
output and error, links to Airflow's task logs, the notifications sent for the run (the delivery log's
rows: channel, recipients, status, error), and the retry, cancel and skip buttons.

Invariant: the page reads and changes runs only through the insights functions the executions API
uses (`get_execution`, `retry_execution`, `cancel_execution`), under the same check on the DAG's runs
(read to see, edit to retry or cancel); a change is a CSRF-checked form post answered with a redirect
to the page, which says what happened (a conflict, such as nothing to retry, is said the same way).
Skipping a failed step is a form post too (`skip_step`, as the API's skip route): the task instance is
marked skipped with the person's note and name (kept in Airflow, shown as the execution's skips) and
the run's failed and upstream-failed steps are cleared; the steps' `none_failed` rule lets it go on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from automation.errors import AutomationError, ConflictError
from automation.insights.executions import (
    SKIP_NOTE,
    SKIP_NOTE_MAX,
    cancel_execution,
    get_execution,
    retry_execution,
    skip_step,
)
from automation.pages import auth, charts
from automation.pages.readable import as_yaml
from automation.pages.render import Links, render
from automation.pages.workflow_actions import read_form
from automation.services import workflows
from automation.store.deliveries import DeliveryLog

router = APIRouter(route_class=auth.PageRoute)
#: The notifications sent for one run that the page lists (the last ones; the notifications API has all).
NOTICES_SHOWN = 100
DONE = {
    "started": "Started: Airflow runs it now (this page shows its steps as they go; reload to follow).",
    "retried": "The failed steps were cleared: Airflow runs them again (delivered effects are not repeated).",
    "cancelled": "The execution was marked failed; its running steps are stopped.",
    "skipped": "The step was marked skipped (with your note, in Airflow) and the steps it held back run again.",
    "not-skipped": "Not skipped: only a failed step is skipped, and this one is not failed (any more).",
    "not-retried": "Nothing to retry: the execution has no failed steps.",
    "not-cancelled": "Not cancelled: the execution already ended; only a running one stops.",
}


def task_log_path(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The Airflow UI's page of one task instance (its log), without the UI's prefix."""
    path = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    return path + (f"/mapped/{map_index}" if map_index >= 0 else "")


def step_configs(key: str, version: int | None) -> dict[str, str]:
    """Each step's config as written in the version the run pinned (by step id, as YAML): what the step
    rendered its templates from. None known (no version pinned yet, or it is gone): none shown."""
    if version is None:
        return {}
    try:
        definition = workflows.version_definition(key, version)
    except AutomationError:
        return {}
    steps = [s for s in definition.get("steps") or [] if isinstance(s, dict) and s.get("config")]
    return {str(s.get("id")): as_yaml(s["config"]) for s in steps}


@router.get("/workflows/{key}/executions/{run_id}", dependencies=[auth.run_access("GET")])
async def execution_page(
    request: Request, key: str, run_id: str, user: Annotated[Any, auth.user()], done: str | None = None
) -> Response:
    execution = await run_in_threadpool(get_execution, key, run_id)
    deliveries = await run_in_threadpool(
        lambda: DeliveryLog().list(workflow=key, run_id=execution.run_id, limit=NOTICES_SHOWN)
    )
    configs = await run_in_threadpool(step_configs, key, execution.version)
    event = execution.event or {}
    now = datetime.now(UTC)
    return render(
        request,
        "execution.html",
        key=key,
        execution=execution,
        event_new=as_yaml(event.get("new")),
        event_old=as_yaml(event.get("old")),
        event_rest=as_yaml({k: v for k, v in event.items() if k not in {"new", "old"}}),
        outputs={s.task_id + str(s.map_index): as_yaml(s.output) for s in execution.steps},
        configs=configs,
        log_path=lambda s: task_log_path(execution.dag_id, execution.run_id, s.task_id, s.map_index),
        now=now,
        step_phrase=lambda s: charts.step_phrase(s, now=now),
        wait_words=charts.wait_words,
        deliveries=[{**d, "created_at": datetime.fromisoformat(d["created_at"])} for d in deliveries[::-1]],
        deliveries_max=NOTICES_SHOWN,
        can_change=auth.allowed(user, "PUT", key, runs=True),  # the retry/cancel/skip routes' check
        csrf_token=auth.csrf_token(user),
        skip_note=SKIP_NOTE,
        skip_note_max=SKIP_NOTE_MAX,
        done=DONE.get(done or ""),
        nav="workflows",
    )


async def _change(request: Request, key: str, run_id: str, user: Any, change: Any, done: str) -> Response:
    """Run `change(key, run_id, fields)` after the form's checks; back to the page, saying what happened."""
    fields = await read_form(request, user)
    try:
        await run_in_threadpool(change, key, run_id, fields)
    except ConflictError:
        done = f"not-{done}"
    target = Links(request).page("workflows", key, "executions", run_id, done=done)
    return RedirectResponse(target, status_code=303)


@router.post("/workflows/{key}/executions/{run_id}/retry", dependencies=[auth.run_access("PUT")])
async def retry(request: Request, key: str, run_id: str, user: Annotated[Any, auth.user()]) -> Response:
    return await _change(request, key, run_id, user, lambda k, r, _: retry_execution(k, r), "retried")


@router.post("/workflows/{key}/executions/{run_id}/cancel", dependencies=[auth.run_access("PUT")])
async def cancel(request: Request, key: str, run_id: str, user: Annotated[Any, auth.user()]) -> Response:
    return await _change(request, key, run_id, user, lambda k, r, _: cancel_execution(k, r), "cancelled")


@router.post("/workflows/{key}/executions/{run_id}/steps/{step_id}/skip", dependencies=[auth.run_access("PUT")])
async def skip(request: Request, key: str, run_id: str, step_id: str, user: Annotated[Any, auth.user()]) -> Response:
    def change(k: str, r: str, fields: dict[str, str]) -> Any:
        note, index = fields.get("note", "").strip(), fields.get("map_index", "-1").strip()
        if len(note) > SKIP_NOTE_MAX:
            raise HTTPException(400, f"note: at most {SKIP_NOTE_MAX} characters")
        if not index.lstrip("-").isdigit() or not -1 <= int(index) <= 1_000_000:
            raise HTTPException(400, "map_index: expected a number from -1")
        return skip_step(k, r, step_id, map_index=int(index), note=note or None, user_id=str(user.get_id()),
                         user_name=user.get_name())  # fmt: skip

    return await _change(request, key, run_id, user, change, "skipped")
