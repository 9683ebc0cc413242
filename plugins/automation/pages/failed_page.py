"""The failed runs page: the dead letters (failed executions of every workflow the user may read,
not retried since), filtered by workflow, trigger entity, record, event id and day, each with the
steps that failed and why; a selection is retried in bulk after a confirmation.

Invariant: the page reads and retries only through the insights functions the executions API uses
(`failed_executions`, `retry_failed`), with the same checks: the list keeps the workflows whose DAG
runs the user may read, a checkbox shows only on a run the user may change (edit access to that
workflow's DAG runs), and the retry is a CSRF-checked form post under the DAG-run edit check, where
each run is checked again on its own workflow's DAG (`not_allowed` otherwise). The first post shows
the selection to confirm; the confirmed post retries and shows what happened to each run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from automation.airflow_adapter.access import authorized_keys, run_entity, runs_readable_by
from automation.insights.executions import (
    MAX_RETRY_SELECTION,
    ExecutionFilter,
    RetryResult,
    failed_executions,
    retry_failed,
)
from automation.pages import auth
from automation.pages.render import render
from automation.services import workflows

router = APIRouter(route_class=auth.PageRoute)
PAGE_SIZE = 50
MAX_OFFSET = 1_000_000
#: how a selected run travels in the form: "<key>/<run_id>" (a key has no "/")
SEPARATOR = "/"
OUTCOMES = {
    "retried": "Retried: its failed steps run again",
    "not_failed": "Not failed (any more)",
    "not_allowed": "Not allowed",
    "not_found": "Not found",
}


def _text(params: dict[str, str], name: str, limit: int) -> str | None:
    value = params.get(name, "").strip()
    if len(value) > limit:
        raise HTTPException(400, f"{name}: at most {limit} characters")
    return value or None


def _day(params: dict[str, str], name: str) -> date | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}: a day is written YYYY-MM-DD") from None


def _number(params: dict[str, str], name: str, low: int, high: int) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise HTTPException(400, f"{name}: a whole number from {low} to {high}")
    return int(value)


class Filters:
    """The page's filters, read from its query string (every one bounded; a bad one is a 400 page)."""

    def __init__(self, params: dict[str, str]) -> None:
        self.workflow = _text(params, "workflow", 63)
        self.entity = _text(params, "entity", 63)
        self.entity_id = _text(params, "entity_id", 200)
        self.event_id = _number(params, "event_id", 1, 2**63 - 1)
        self.since = _day(params, "since")
        self.until = _day(params, "until")  # that day included
        self.offset = _number(params, "offset", 0, MAX_OFFSET) or 0
        if self.until == date.max:
            raise HTTPException(400, "until: a day before 9999-12-31")
        if self.since and self.until and self.since > self.until:
            raise HTTPException(400, "since: the first day comes before the last")

    def query(self, **changes: Any) -> dict[str, Any]:
        values = {"workflow": self.workflow, "entity": self.entity, "entity_id": self.entity_id,
                  "event_id": self.event_id, "since": self.since, "until": self.until}  # fmt: skip
        return {k: v for k, v in {**values, **changes}.items() if v is not None}

    def to_filter(self, keys: list[str] | None) -> ExecutionFilter:
        def midnight(day: date | None, days: int = 0) -> datetime | None:
            return datetime.combine(day + timedelta(days=days), datetime.min.time(), UTC) if day else None

        return ExecutionFilter(keys=keys, entity=self.entity, entity_id=self.entity_id, event_id=self.event_id,
                               since=midnight(self.since), until=midnight(self.until, 1))  # fmt: skip


def _list_context(user: Any, filters: Filters) -> dict[str, Any]:
    readable = runs_readable_by(user, None)
    choices = readable if readable is not None else [w.key for w in workflows.list_workflows()]
    if filters.workflow is not None and filters.workflow not in choices:
        raise HTTPException(404, f"no workflow {filters.workflow!r} among those you may read")
    keys = [filters.workflow] if filters.workflow else readable
    try:
        found = failed_executions(filters.to_filter(keys), limit=PAGE_SIZE, offset=filters.offset)
    except ValueError as exc:  # a filter the search refuses (its field first)
        raise HTTPException(400, str(exc)) from exc
    changeable = authorized_keys(user, "PUT", {e.key for e in found.executions}, run_entity())
    return {"found": found, "choices": choices, "changeable": changeable}


@router.get("/failed", dependencies=[auth.run_access("GET")])
async def failed_page(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    filters = Filters(dict(request.query_params))
    context = await run_in_threadpool(_list_context, user, filters)
    return render(request, "failed.html", filters=filters, page_size=PAGE_SIZE, csrf_token=auth.csrf_token(user),
                  nav="failed", **context)  # fmt: skip


async def _selection(request: Request, user: Any) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """The posted selection (after the session, origin and CSRF checks), in the order it was sent."""
    body = (await request.body()).decode(errors="replace")
    fields = parse_qs(body, keep_blank_values=True)
    auth.check_form_post(request, user, (fields.get(auth.CSRF_FIELD) or [""])[-1])
    runs = list(dict.fromkeys(fields.get("run", [])))
    if len(runs) > MAX_RETRY_SELECTION:
        raise HTTPException(400, f"run: at most {MAX_RETRY_SELECTION} executions at once")
    selection = []
    for value in runs:
        key, sep, run_id = value.partition(SEPARATOR)
        if not sep or not key or not run_id or len(key) > 63 or len(run_id) > 250:
            raise HTTPException(400, f"run: {value[:80]!r} is not a workflow/run id")
        selection.append((key, run_id))
    return selection, fields


@router.post("/failed/retry", dependencies=[auth.run_access("PUT")])
async def retry_selected(request: Request, user: Annotated[Any, auth.user()]) -> Response:
    selection, fields = await _selection(request, user)
    if not selection:
        raise HTTPException(400, "run: select at least one execution to retry")
    results: list[RetryResult] | None = None
    if (fields.get("confirmed") or [""])[-1] == "yes":
        allowed = await run_in_threadpool(authorized_keys, user, "PUT", {k for k, _ in selection}, run_entity())
        results = await run_in_threadpool(retry_failed, selection, allowed)
    return render(request, "failed_retry.html", selection=selection, results=results, outcomes=OUTCOMES,
                  separator=SEPARATOR, csrf_token=auth.csrf_token(user), nav="failed")  # fmt: skip
