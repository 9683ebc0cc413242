"""Executions of a workflow, read from Airflow's own runs of its DAG: list, detail, retry, cancel, skip
a failed step. Reads need read access to the workflow DAG's runs, the changes edit access (Airflow auth)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from automation.airflow_adapter.access import current_user, run_access
from automation.insights.executions import (
    SKIP_NOTE,
    SKIP_NOTE_MAX,
    Execution,
    ExecutionDetail,
    ExecutionStatus,
    cancel_execution,
    get_execution,
    list_executions,
    retry_execution,
    skip_step,
)

router = APIRouter(prefix="/api/v1/workflows/{key}/executions", tags=["executions"])


class SkipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(
        default=None, max_length=SKIP_NOTE_MAX, description=f'why (kept in Airflow); default "{SKIP_NOTE}"'
    )
    map_index: int = Field(default=-1, ge=-1, le=1_000_000, description="for a for_each step: which item")


class ExecutionPage(BaseModel):
    total: int
    executions: list[Execution]


@router.get("", dependencies=[run_access("GET")])
async def list_workflow_executions(
    key: str,
    status: Annotated[ExecutionStatus | None, Query(description="skipped: the conditions were false")] = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> ExecutionPage:
    total, executions = await run_in_threadpool(list_executions, key, status=status, limit=limit, offset=offset)
    return ExecutionPage(total=total, executions=executions)


@router.get("/{run_id}", dependencies=[run_access("GET")])
async def read_execution(key: str, run_id: str) -> ExecutionDetail:
    return await run_in_threadpool(get_execution, key, run_id)


@router.post("/{run_id}/retry", dependencies=[run_access("PUT")])
async def retry_workflow_execution(key: str, run_id: str) -> ExecutionDetail:
    """Clear the failed (and upstream-failed) steps so Airflow runs them again; delivered effects
    are not repeated. 409 when nothing failed."""
    return await run_in_threadpool(retry_execution, key, run_id)


@router.post("/{run_id}/cancel", dependencies=[run_access("PUT")])
async def cancel_workflow_execution(key: str, run_id: str) -> ExecutionDetail:
    """Mark the run failed and stop its running steps (Airflow's own "mark failed"). 409 when it ended."""
    return await run_in_threadpool(cancel_execution, key, run_id)


@router.post("/{run_id}/steps/{step_id}/skip", dependencies=[run_access("PUT")])
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
