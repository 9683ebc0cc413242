"""Executions, read from Airflow's own runs of the workflow DAGs: per workflow (list, detail, retry,
cancel, skip a failed step) and across workflows (a filtered list, the failed ones: the dead letters,
and a bulk retry). Reads need read access to the workflow DAG's runs, the changes edit access (Airflow
auth); across workflows, each workflow's own DAG decides (a list keeps the readable ones, a bulk retry
answers `not_allowed` for a run the caller may not change)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from automation.airflow_adapter.access import authorized_keys, current_user, run_access, run_entity, runs_readable_by
from automation.insights.executions import (
    MAX_RETRY_SELECTION,
    SKIP_NOTE,
    SKIP_NOTE_MAX,
    Execution,
    ExecutionDetail,
    ExecutionFilter,
    ExecutionList,
    ExecutionStatus,
    FailedList,
    RetryResult,
    cancel_execution,
    failed_executions,
    get_execution,
    list_executions,
    retry_execution,
    retry_failed,
    search_executions,
    skip_step,
)

router = APIRouter(prefix="/api/v1", tags=["executions"])
per_workflow = APIRouter(prefix="/workflows/{key}/executions")
MAX_WORKFLOW_FILTER = 100
NO_NUL = r"^[^\x00]*$"  # Postgres text holds no NUL character


class SkipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(
        default=None, max_length=SKIP_NOTE_MAX, description=f'why (kept in Airflow); default "{SKIP_NOTE}"'
    )
    map_index: int = Field(default=-1, ge=-1, le=1_000_000, description="for a for_each step: which item")


class ExecutionPage(BaseModel):
    total: int
    executions: list[Execution]


@per_workflow.get("", dependencies=[run_access("GET")])
async def list_workflow_executions(
    key: str,
    status: Annotated[ExecutionStatus | None, Query(description="skipped: the conditions were false")] = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> ExecutionPage:
    total, executions = await run_in_threadpool(list_executions, key, status=status, limit=limit, offset=offset)
    return ExecutionPage(total=total, executions=executions)


@per_workflow.get("/{run_id}", dependencies=[run_access("GET")])
async def read_execution(key: str, run_id: str) -> ExecutionDetail:
    return await run_in_threadpool(get_execution, key, run_id)


@per_workflow.post("/{run_id}/retry", dependencies=[run_access("PUT")])
async def retry_workflow_execution(key: str, run_id: str) -> ExecutionDetail:
    """Clear the failed (and upstream-failed) steps so Airflow runs them again; delivered effects
    are not repeated. 409 when nothing failed."""
    return await run_in_threadpool(retry_execution, key, run_id)


@per_workflow.post("/{run_id}/cancel", dependencies=[run_access("PUT")])
async def cancel_workflow_execution(key: str, run_id: str) -> ExecutionDetail:
    """Mark the run failed and stop its running steps (Airflow's own "mark failed"). 409 when it ended."""
    return await run_in_threadpool(cancel_execution, key, run_id)


@per_workflow.post("/{run_id}/steps/{step_id}/skip", dependencies=[run_access("PUT")])
async def skip_workflow_step(
    key: str,
    run_id: str,
    user: Annotated[Any, current_user()],
    step_id: str = Path(max_length=250),
    body: Annotated[SkipIn | None, Body()] = None,
) -> ExecutionDetail:
    """Mark a failed step skipped and go on: Airflow sets it skipped with the note (and who did it, in
    its audit log; the execution's `skips`), and clears the run's failed and upstream-failed steps, which
    wait for their upstream with `none_failed`, so they run. 404 for a step the run lacks, 409 when the
    step is not failed."""
    skip = body or SkipIn()
    return await run_in_threadpool(
        lambda: skip_step(
            key,
            run_id,
            step_id,
            map_index=skip.map_index,
            note=skip.note,
            user_id=str(user.get_id()),
            user_name=user.get_name(),
        )
    )


# -- across workflows ------------------------------------------------------------------------------


def execution_filter(
    user: Annotated[Any, current_user()],
    workflow: Annotated[
        list[Annotated[str, Field(max_length=63)]] | None,
        Query(max_length=MAX_WORKFLOW_FILTER, description="only these workflows (repeat the parameter)"),
    ] = None,
    entity: Annotated[
        str | None, Query(max_length=63, description="the trigger event's entity (collection), e.g. deals")
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=200, description="the trigger event's record id")] = None,
    event_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="the ledger event the run handled")] = None,
    since: Annotated[datetime | None, Query(description="runs due from (ISO 8601; UTC without an offset)")] = None,
    until: Annotated[datetime | None, Query(description="runs due before (exclusive)")] = None,
) -> ExecutionFilter:
    """The filters of the lists across workflows, limited to the workflows whose runs the user may read."""
    readable = runs_readable_by(user, workflow)
    return ExecutionFilter(keys=readable, entity=entity, entity_id=entity_id, event_id=event_id, since=since,
                           until=until)  # fmt: skip


Filter = Annotated[ExecutionFilter, Depends(execution_filter)]
LIMIT = Query(default=50, ge=1, le=500)
OFFSET = Query(default=0, ge=0, le=1_000_000)


def _bad_filter(exc: ValueError) -> RequestValidationError:
    field, _, message = str(exc).partition(": ")
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


@router.get("/executions", dependencies=[run_access("GET")])
async def list_all_executions(
    found: Filter,
    status: Annotated[ExecutionStatus | None, Query(description="skipped: the conditions were false")] = None,
    limit: int = LIMIT,
    offset: int = OFFSET,
) -> ExecutionList:
    """Executions of every workflow whose runs you may read (or of `workflow`), newest first (by when
    the run was due), filtered by status, the trigger event (its entity, record id or ledger id) and
    period. `partial`: the entity filter matched more than 5,000 events; the newest were used."""
    try:
        return await run_in_threadpool(
            lambda: search_executions(replace(found, status=status), limit=limit, offset=offset)
        )
    except ValueError as exc:
        raise _bad_filter(exc) from exc


@router.get("/executions/failed", dependencies=[run_access("GET")])
async def list_failed_executions(found: Filter, limit: int = LIMIT, offset: int = OFFSET) -> FailedList:
    """The dead letters: executions whose run is failed in Airflow and not retried since (a retried run
    is queued or running, and comes back only if it fails again), newest first, each with its failed
    and upstream-failed steps and the latest error of each. Same filters as the list."""
    try:
        return await run_in_threadpool(lambda: failed_executions(found, limit=limit, offset=offset))
    except ValueError as exc:
        raise _bad_filter(exc) from exc


class RunRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=63, pattern=NO_NUL, description="the workflow")
    run_id: str = Field(min_length=1, max_length=250, pattern=NO_NUL)


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runs: list[RunRef] = Field(min_length=1, max_length=MAX_RETRY_SELECTION)


class RetryOut(BaseModel):
    results: list[RetryResult]
    retried: int


@router.post("/executions/retry", dependencies=[run_access("PUT")])
async def retry_executions(body: RetryIn, user: Annotated[Any, current_user()]) -> RetryOut:
    """Retry a selection of failed executions (at most 100): for each, its failed and upstream-failed
    steps are cleared so Airflow runs them again, and only them (delivered effects are not repeated).
    Each run answers on its own: `retried` (with the steps cleared), `not_failed` (not failed, or no
    more: retried already), `not_allowed` (you may not change that workflow's runs), `not_found`.
    403 when you may change none of them."""
    selection = [(ref.key, ref.run_id) for ref in body.runs]
    allowed = await run_in_threadpool(authorized_keys, user, "PUT", {k for k, _ in selection}, run_entity())
    if not allowed:
        raise HTTPException(403, "you may not change the runs of any of these workflows")
    results = await run_in_threadpool(retry_failed, selection, allowed)
    return RetryOut(results=results, retried=sum(r.outcome == "retried" for r in results))


router.include_router(per_workflow)
