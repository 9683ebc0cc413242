"""Executions of a workflow, read from Airflow's own runs of its DAG: list, detail, retry, cancel.
Reads need read access to the workflow DAG's runs, retry and cancel edit access (Airflow auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from automation.airflow_adapter.access import run_access
from automation.insights.executions import (
    Execution,
    ExecutionDetail,
    ExecutionStatus,
    cancel_execution,
    get_execution,
    list_executions,
    retry_execution,
)

router = APIRouter(prefix="/api/v1/workflows/{key}/executions", tags=["executions"])


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
