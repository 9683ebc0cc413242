"""Execution statistics per workflow and overall over a period, aggregated in SQL: three queries on
Airflow's runs (counts per day and status, duration average and percentiles, last runs) and one on the recorded
step failures, however many runs the period holds."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on

from automation.airflow_adapter.db import metadata_session
from automation.config import dag_id_for
from automation.errors import NotFoundError
from automation.insights.executions import (
    Execution,
    airflow_models,
    duration_expression,
    run_columns,
    status_expression,
    to_executions,
)
from automation.runtime.operators import EACH_SUFFIX
from automation.store.repository import Repository, StoredWorkflow
from automation.store.runs import FailureCount, RunRecords

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_ERRORS = 3
TOP_OVERALL_STEPS = 10
#: Runs that executed their steps: what durations and percentiles are computed over.
EXECUTED = ("success", "failed")


class DayCount(BaseModel):
    day: date
    success: int = 0
    failed: int = 0
    skipped: int = 0
    other: int = 0


class ErrorCount(BaseModel):
    message: str
    count: int


class FailingStep(BaseModel):
    step_id: str
    failures: int
    top_errors: list[ErrorCount]
    key: str | None = None  # the workflow (set in the overall ranking, where steps of all workflows meet)


class WorkflowStats(BaseModel):
    key: str | None
    dag_id: str | None
    name: str | None
    status: str | None
    total: int = 0
    success: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0
    queued: int = 0
    success_rate: float | None = None
    avg_duration_s: float | None = None
    p50_duration_s: float | None = None
    p95_duration_s: float | None = None
    last_execution: Execution | None = None
    per_day: list[DayCount] = []
    failing_steps: list[FailingStep] = []


class StatsReport(BaseModel):
    since: datetime
    until: datetime
    overall: WorkflowStats
    workflows: list[WorkflowStats]
    durations_s: list[float]


def default_period(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last 30 days, today included: from midnight UTC 29 days ago up to now."""
    now = now or datetime.now(UTC)
    start = datetime.combine(now.astimezone(UTC).date() - timedelta(days=DEFAULT_DAYS - 1), time(), UTC)
    return start, now


def check_period(since: datetime, until: datetime) -> None:
    """ValueError (with the field name first) for a period that is empty, reversed or too long."""
    if since >= until:
        raise ValueError("since: must be before until")
    if until - since > timedelta(days=MAX_DAYS):
        raise ValueError(f"since: the period is at most {MAX_DAYS} days")


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _days(since: datetime, until: datetime) -> list[date]:
    first, last = since.astimezone(UTC).date(), (until - timedelta(microseconds=1)).astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _workflows(keys: list[str] | None) -> list[StoredWorkflow]:
    workflows = Repository().list_workflows()
    if keys is None:
        return workflows
    known = {w.key for w in workflows}
    if missing := [k for k in keys if k not in known]:
        raise NotFoundError(f"workflow {missing[0]!r} does not exist")
    wanted = set(keys)
    return [w for w in workflows if w.key in wanted]


def _queries(dag_ids: list[str], since: datetime, until: datetime) -> tuple[Any, Any, Any]:
    DagRun, _ = airflow_models()
    in_period = (DagRun.dag_id.in_(dag_ids), DagRun.run_after >= since, DagRun.run_after < until)
    runs = (
        select(
            DagRun.dag_id,
            status_expression().label("status"),
            func.date(func.timezone("UTC", DagRun.run_after)).label("day"),
            duration_expression().label("duration"),
        )
        .where(*in_period)
        .subquery()
    )
    counts = select(runs.c.dag_id, runs.c.day, runs.c.status, func.count().label("n")).group_by(
        runs.c.dag_id, runs.c.day, runs.c.status
    )
    executed = runs.c.status.in_(EXECUTED) & runs.c.duration.is_not(None)
    durations = (
        select(
            runs.c.dag_id,
            func.percentile_cont(0.5).within_group(runs.c.duration).label("p50"),
            func.percentile_cont(0.95).within_group(runs.c.duration).label("p95"),
            func.avg(runs.c.duration).label("avg"),
            func.array_agg(runs.c.duration).label("all"),
        )
        .where(executed)
        .group_by(func.rollup(runs.c.dag_id))
    )
    last = (
        select(*run_columns())
        .where(DagRun.dag_id.in_(dag_ids), DagRun.run_after < until)
        .ext(distinct_on(DagRun.dag_id))
        .order_by(DagRun.dag_id, DagRun.run_after.desc(), DagRun.run_id.desc())
    )
    return counts, durations, last


def _failing_steps(rows: list[FailureCount], keys: dict[str, str], limit: int | None) -> list[FailingStep]:
    by_step: dict[tuple[str, str], list[FailureCount]] = defaultdict(list)
    for row in rows:
        by_step[(row.dag_id, row.task_id.removesuffix(EACH_SUFFIX))].append(row)
    steps = []
    for (dag_id, step_id), found in by_step.items():
        messages: dict[str, int] = defaultdict(int)
        for row in found:
            messages[row.message] += row.count
        top = sorted(messages.items(), key=lambda item: (-item[1], item[0]))[:TOP_ERRORS]
        steps.append(
            FailingStep(
                key=keys[dag_id],
                step_id=step_id,
                failures=sum(messages.values()),
                top_errors=[ErrorCount(message=m, count=n) for m, n in top],
            )
        )
    steps.sort(key=lambda s: (-s.failures, s.key or "", s.step_id))
    return steps[:limit] if limit else steps


def _fill(stats: WorkflowStats, counts: dict[date, dict[str, int]], days: list[date]) -> None:
    stats.per_day = []
    for day in days:
        by_status = counts.get(day, {})
        stats.per_day.append(
            DayCount(
                day=day,
                success=by_status.get("success", 0),
                failed=by_status.get("failed", 0),
                skipped=by_status.get("skipped", 0),
                other=sum(n for s, n in by_status.items() if s not in {"success", "failed", "skipped"}),
            )
        )
        for status, n in by_status.items():
            stats.total += n
            if status in {"success", "failed", "skipped", "running", "queued"}:
                setattr(stats, status, getattr(stats, status) + n)
    finished = stats.success + stats.failed
    stats.success_rate = stats.success / finished if finished else None


def stats_report(
    *, keys: list[str] | None = None, since: datetime | None = None, until: datetime | None = None
) -> StatsReport:
    """Naive datetimes are taken as UTC."""
    since, until = _utc(since), _utc(until)
    default_since, default_until = default_period()
    until = until or default_until
    since = since or (default_since if until == default_until else until - timedelta(days=DEFAULT_DAYS))
    check_period(since, until)
    workflows = _workflows(keys)
    key_of = {dag_id_for(w.key): w.key for w in workflows}
    dag_ids = sorted(key_of)
    days = _days(since, until)

    counts: dict[str | None, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    percentiles: dict[str | None, tuple[float | None, float | None, float | None]] = {}
    durations: list[float] = []
    last: list[Execution] = []
    if dag_ids:
        count_query, duration_query, last_query = _queries(dag_ids, since, until)
        with metadata_session() as session:
            for row in session.execute(count_query):
                for dag_id in (row.dag_id, None):
                    per_status = counts[dag_id][row.day]
                    per_status[row.status] = per_status.get(row.status, 0) + row.n
            for row in session.execute(duration_query):
                percentiles[row.dag_id] = (row.avg, row.p50, row.p95)
                if row.dag_id is None:
                    durations = sorted(float(d) for d in row.all or [])
            last_rows = session.execute(last_query).all()
        last = to_executions(last_rows, key_of)
    failures = RunRecords().failure_counts(dag_ids, since, until)

    def build(workflow: StoredWorkflow | None) -> WorkflowStats:
        dag_id = dag_id_for(workflow.key) if workflow else None
        stats = WorkflowStats(
            key=workflow.key if workflow else None,
            dag_id=dag_id,
            name=workflow.name if workflow else None,
            status=workflow.status if workflow else None,
        )
        _fill(stats, counts.get(dag_id, {}), days)
        avg, p50, p95 = percentiles.get(dag_id, (None, None, None))
        stats.avg_duration_s = float(avg) if avg is not None else None
        stats.p50_duration_s = float(p50) if p50 is not None else None
        stats.p95_duration_s = float(p95) if p95 is not None else None
        mine = [e for e in last if dag_id is None or e.dag_id == dag_id]
        stats.last_execution = max(mine, key=lambda e: e.run_after or datetime.min.replace(tzinfo=UTC), default=None)
        rows = [f for f in failures if dag_id is None or f.dag_id == dag_id]
        stats.failing_steps = _failing_steps(rows, key_of, None if workflow else TOP_OVERALL_STEPS)
        return stats

    return StatsReport(
        since=since,
        until=until,
        overall=build(None),
        workflows=[build(w) for w in workflows],
        durations_s=durations,
    )
