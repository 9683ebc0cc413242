"""Execution statistics per workflow and overall (default: the last 30 days).
Reads need read access to DAG runs (Airflow auth)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from automation.airflow_adapter.access import current_user, run_access, runs_readable_by
from automation.insights.stats import StatsReport, WorkflowStats, stats_report

router = APIRouter(prefix="/api/v1", tags=["stats"])


SINCE = Query(default=None, description="start of the period (ISO 8601; UTC when no offset is given)")
UNTIL = Query(default=None, description="end of the period, exclusive (default: now)")


async def _report(keys: list[str] | None, since: datetime | None, until: datetime | None) -> StatsReport:
    try:
        return await run_in_threadpool(stats_report, keys=keys, since=since, until=until)
    except ValueError as exc:  # the period: reversed or too long
        field, _, message = str(exc).partition(": ")
        raise RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}]) from exc
    except OverflowError as exc:  # e.g. until=0001-01-02: 30 days before it is no date
        error = {"loc": ("query", "since"), "msg": "the period is outside supported dates", "type": "value_error"}
        raise RequestValidationError([error]) from exc


@router.get("/stats", dependencies=[run_access("GET")])  # without a key: runs of any DAG
async def overall_stats(
    user: Annotated[Any, current_user()],
    since: datetime | None = SINCE,
    until: datetime | None = UNTIL,
    key: Annotated[list[str] | None, Query(description="only these workflows (repeat the parameter)")] = None,
) -> StatsReport:
    return await _report(await run_in_threadpool(runs_readable_by, user, key), since, until)


@router.get("/workflows/{key}/stats", dependencies=[run_access("GET")])
async def workflow_stats(key: str, since: datetime | None = SINCE, until: datetime | None = UNTIL) -> WorkflowStats:
    report = await _report([key], since, until)
    return report.workflows[0]
