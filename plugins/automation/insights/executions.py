"""Executions of a workflow: Airflow's runs of its DAG, read from Airflow's metadata database through
its ORM (no second copy of run state), with what the store adds: the definition version each run
executed, the ledger event it handled (its partition key's, or for a manual run for a record the one
its gate claimed; `run_type` says manual), step effects and why failed attempts failed.

Retry, cancel and skip go through Airflow's own code: `dag.clear` (what "clear failed tasks" does), the
function behind `PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}` with state=failed, and what `PATCH
.../taskInstances/{task_id}` with new_state=skipped does (a skip is kept in Airflow: the task instance's
note and an audit log row, read back as the execution's `skips`: who, when, the note). Every Airflow model
and function comes from `airflow_adapter.runs` / `airflow_adapter.db`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, exists, func, or_, select, tuple_

from automation.airflow_adapter import runs as airflow_runs
from automation.airflow_adapter.db import airflow_session
from automation.config import dag_id_for, key_for_dag_id
from automation.errors import ConflictError, NotFoundError
from automation.runtime.operators import EACH_SUFFIX, GATE_TASK_ID
from automation.store.repository import Repository
from automation.store.runs import RunRecords, StepFailure

ExecutionStatus = Literal["success", "failed", "skipped", "running", "queued"]
EXECUTION_STATUSES: tuple[str, ...] = ("success", "failed", "skipped", "running", "queued")


WaitKind = Literal["deferred", "awaiting_approval"]
#: why a deferred step waits, by the method it resumes in (`runtime.operators`); another: "trigger"
WAIT_REASONS: dict[str, str] = {
    "resume": "wait",
    "after_debounce": "debounce",
    "after_order": "ordering",
    "after_rate_limit": "rate_limit",
    "after_delay": "delay",
}


class StepWait(BaseModel):
    """What a step waits on while Airflow holds it deferred or awaiting input (no worker slot): a wait, the rate limit,
    the ordering per record, a debounce or a delayed start on the triggerer, or a person's answer."""

    kind: WaitKind = Field(description="deferred (on the triggerer), or awaiting_approval (a person's answer)")
    reason: str = Field(description="wait, debounce, ordering, rate_limit, delay, approval or trigger (another)")
    since: datetime | None = Field(None, description="when it began to wait")
    until: datetime | None = Field(
        None, description="when the wait ends by itself (a wait's or rate limit's moment, an approval's timeout)"
    )
    assignees: list[str] | None = Field(
        None, description="an approval's user ids who may answer (null: anyone who may edit the workflow's runs)"
    )
    answer_url: str | None = Field(None, description="an approval's page in the Airflow UI where it is answered")


class StepRun(BaseModel):
    task_id: str
    step_id: str
    map_index: int = -1
    state: str | None
    attempts: int
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    queued_at: datetime | None = Field(
        None, description="when Airflow queued the step's current attempt (queued to started: time in the queue)"
    )
    waiting: StepWait | None = Field(None, description="what the step waits on, while deferred or awaiting input")
    output: Any = None
    error: str | None = None
    error_class: str | None = None
    #: every failed attempt of this step in the run, oldest first (also those a retry recovered)
    failed_attempts: list[dict[str, Any]] = []


class Execution(BaseModel):
    key: str
    dag_id: str
    run_id: str
    status: ExecutionStatus
    run_type: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    version: int | None
    event: dict[str, Any] | None
    airflow_url: str
    run_after: datetime | None = None
    conf: dict[str, Any] | None = None


class StepSkip(BaseModel):
    """A failed step someone skipped so the run went on (Airflow's audit log of the run)."""

    step_id: str
    task_id: str
    map_index: int = -1
    by: str | None
    at: datetime
    note: str | None


class ExecutionDetail(Execution):
    steps: list[StepRun]
    #: the steps skipped so the run goes on, oldest first
    skips: list[StepSkip] = []


#: the note a skipped step gets when the person gives none
SKIP_NOTE = "Skipped from the automation execution page"
SKIP_NOTE_MAX = 500  # Airflow's note column holds 1000


# -- SQL over Airflow's tables (shared with the statistics) ----------------------------------------


def airflow_models() -> tuple[Any, Any]:
    """Airflow's (DagRun, TaskInstance) ORM models (`airflow_adapter.runs`)."""
    return airflow_runs.run_models()


def status_expression() -> Any:
    """A run's execution status in SQL: Airflow's run state, except that a successful run whose
    conditions gate succeeded while every step was skipped is "skipped" (the gate said no)."""
    DagRun, TI = airflow_models()
    same_run = and_(TI.dag_id == DagRun.dag_id, TI.run_id == DagRun.run_id)
    gate_passed = exists().where(same_run, TI.task_id == GATE_TASK_ID, TI.state == "success")
    a_step_ran = exists().where(same_run, TI.task_id != GATE_TASK_ID, or_(TI.state.is_(None), TI.state != "skipped"))
    return case((and_(DagRun.state == "success", gate_passed, ~a_step_ran), "skipped"), else_=DagRun.state)


def duration_expression() -> Any:
    DagRun, _ = airflow_models()
    return func.extract("epoch", DagRun.end_date - DagRun.start_date)


def run_columns() -> list[Any]:
    DagRun, _ = airflow_models()
    return [
        DagRun.dag_id,
        DagRun.run_id,
        DagRun.run_type,
        DagRun.start_date,
        DagRun.end_date,
        DagRun.run_after,
        DagRun.partition_key,
        DagRun.conf,
        status_expression().label("status"),
    ]


def airflow_url(dag_id: str, run_id: str) -> str:
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _event_id(partition_key: str | None) -> int | None:
    return int(partition_key) if partition_key and partition_key.isdigit() else None


def to_executions(rows: Sequence[Any], keys: dict[str, str] | None = None) -> list[Execution]:
    """Rows of `run_columns()` as executions; versions and events are read in one batch.
    `keys`: workflow key by DAG id (default: the DAG id's own key)."""

    def key_of(dag_id: str) -> str:
        return (keys or {}).get(dag_id) or key_for_dag_id(dag_id) or dag_id

    records = RunRecords()
    versions = records.versions([(r.dag_id, r.run_id) for r in rows])
    claimed = records.claimed_events([(key_of(r.dag_id), r.run_id) for r in rows if _event_id(r.partition_key) is None])

    def event_of(r: Any) -> int | None:
        """The event a run handled: its partition key, else the one it claimed (a manual run for a record)."""
        found = _event_id(r.partition_key)
        return found if found is not None else claimed.get((key_of(r.dag_id), r.run_id))

    wanted = {(key_of(r.dag_id), eid) for r in rows if (eid := event_of(r)) is not None}
    events = records.events(wanted)
    return [
        Execution(
            key=key_of(r.dag_id),
            dag_id=r.dag_id,
            run_id=r.run_id,
            status=r.status,
            run_type=str(getattr(r.run_type, "value", r.run_type)),
            started_at=r.start_date,
            ended_at=r.end_date,
            duration_s=_seconds(r.start_date, r.end_date),
            version=versions.get((r.dag_id, r.run_id)),
            event=events.get((key_of(r.dag_id), event_of(r) or -1)),
            airflow_url=airflow_url(r.dag_id, r.run_id),
            run_after=r.run_after,
            conf=r.conf or None,
        )
        for r in rows
    ]


# -- reads ---------------------------------------------------------------------------------------


def _session() -> Any:
    return airflow_session()


def _workflow_dag_id(key: str) -> str:
    Repository().get(key)  # NotFoundError for an unknown (or deleted) workflow
    return dag_id_for(key)


def list_executions(
    key: str, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[int, list[Execution]]:
    """The workflow's runs, newest first, and how many match in all."""
    found = search_executions(ExecutionFilter(keys=[key], status=status), limit=limit, offset=offset)
    return found.total, found.executions


# -- executions across workflows and the dead letters ----------------------------------------------

#: at most this many ledger events are matched by an `entity`/`entity_id` filter (the newest ones)
MAX_FILTER_EVENTS = 5000
#: at most this many runs are retried in one request
MAX_RETRY_SELECTION = 100
#: task instance states a retry clears (what `dag.clear(only_failed=True)` clears)
FAILED_STEP_STATES = ("failed", "upstream_failed")


@dataclass(frozen=True)
class ExecutionFilter:
    """Which runs to list. `keys`: these workflows (None: every stored workflow; the API passes the
    ones the user may read); `since`/`until`: the run's `run_after` (naive = UTC; `until` exclusive);
    `entity`/`entity_id`/`event_id`: the ledger event the run handled."""

    keys: list[str] | None = None
    status: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    event_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def by_event(self) -> bool:
        return self.entity is not None or self.entity_id is not None or self.event_id is not None


class ExecutionList(BaseModel):
    total: int
    executions: list[Execution]
    #: the `entity`/`entity_id` filter matched more than MAX_FILTER_EVENTS events: only runs of the
    #: newest of them are listed
    partial: bool = False


class FailedStep(BaseModel):
    step_id: str
    task_id: str
    map_index: int = -1
    state: str  # failed, or upstream_failed (held back by a failed step; a retry runs it too)
    error: str | None = None
    error_class: str | None = None


class FailedExecution(Execution):
    failed_steps: list[FailedStep]


class FailedList(BaseModel):
    total: int
    executions: list[FailedExecution]
    partial: bool = False


RetryOutcome = Literal["retried", "not_failed", "not_allowed", "not_found"]


class RetryResult(BaseModel):
    key: str
    run_id: str
    outcome: RetryOutcome
    message: str
    #: the steps cleared to run again (failed and upstream-failed), for `retried`
    steps: list[str] = []


def _utc(moment: datetime | None, field: str) -> datetime | None:
    """The moment in UTC (naive = UTC); ValueError at `field` for one UTC cannot hold (year 1 at +14:00)."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{field}: outside the supported dates") from None


def _dag_ids(keys: list[str] | None) -> dict[str, str]:
    """Workflow key by DAG id of the wanted stored workflows; NotFoundError (at `workflow`) for a key
    that is not stored."""
    stored = [w.key for w in Repository().list_workflows()]
    if keys is not None:
        if missing := [k for k in keys if k not in set(stored)]:
            error = NotFoundError(f"workflow {missing[0]!r} does not exist")
            error.path = "workflow"  # type: ignore[attr-defined]
            raise error
        stored = [k for k in stored if k in set(keys)]
    return {dag_id_for(key): key for key in stored}


def search_executions(found: ExecutionFilter, *, limit: int = 50, offset: int = 0) -> ExecutionList:
    """Runs of the wanted workflows matching the filter, newest first (`run_after`), and how many match.
    ValueError (field first) for a status that is none or a period that is reversed."""
    if found.status is not None and found.status not in EXECUTION_STATUSES:
        raise ValueError(f"status: must be one of {', '.join(EXECUTION_STATUSES)}")
    since, until = _utc(found.since, "since"), _utc(found.until, "until")
    for field in ("entity", "entity_id"):
        if "\x00" in (getattr(found, field) or ""):
            raise ValueError(f"{field}: a NUL character is not allowed")
    if since is not None and until is not None and since >= until:
        raise ValueError("since: must be before until")
    DagRun, _ = airflow_models()
    key_of = _dag_ids(found.keys)
    where = [DagRun.dag_id.in_(sorted(key_of))]
    if since is not None:
        where.append(DagRun.run_after >= since)
    if until is not None:
        where.append(DagRun.run_after < until)
    if found.status in {"failed", "running", "queued"}:
        where.append(DagRun.state == found.status)  # the status is the run's state: Airflow's index
    elif found.status in {"success", "skipped"}:
        where.append(DagRun.state == "success")
    partial = False
    if found.by_event():
        event_ids, claims, partial = RunRecords().runs_of_events(
            event_id=found.event_id,
            entity=found.entity,
            entity_id=found.entity_id,
            before=until,
            limit=MAX_FILTER_EVENTS,
        )
        by_event = [DagRun.partition_key.in_([str(i) for i in event_ids])] if event_ids else []
        claimed = [(dag_id_for(key), run_id) for key, run_id in claims if dag_id_for(key) in key_of]
        if claimed:
            by_event.append(tuple_(DagRun.dag_id, DagRun.run_id).in_(claimed))
        if not by_event:
            return ExecutionList(total=0, executions=[], partial=partial)
        where.append(or_(*by_event))
    if not key_of:
        return ExecutionList(total=0, executions=[], partial=partial)
    runs = select(*run_columns()).where(*where).subquery()
    matching = select(runs)
    if found.status is not None:
        matching = matching.where(runs.c.status == found.status)
    order = (runs.c.run_after.desc(), runs.c.dag_id, runs.c.run_id.desc())
    with _session() as session:
        total = session.scalar(select(func.count()).select_from(matching.subquery()))
        rows = session.execute(matching.order_by(*order).limit(limit).offset(offset)).all()
    return ExecutionList(total=int(total or 0), executions=to_executions(rows, key_of), partial=partial)


def failed_executions(found: ExecutionFilter, *, limit: int = 50, offset: int = 0) -> FailedList:
    """The dead letters: runs whose Airflow state is `failed` (a retried run is queued or running, so it
    leaves until it fails again), newest first, each with its failed and upstream-failed steps and the
    latest error of each."""
    page = search_executions(replace(found, status="failed"), limit=limit, offset=offset)
    runs = [(e.dag_id, e.run_id) for e in page.executions]
    with _session() as session:
        rows = airflow_runs.task_instances_in(session, runs, FAILED_STEP_STATES)
    errors = RunRecords().last_failures(runs)
    steps: dict[tuple[str, str], list[FailedStep]] = {}
    for ti in rows:
        error = errors.get((ti.dag_id, ti.run_id, ti.task_id, ti.map_index)) if ti.state == "failed" else None
        steps.setdefault((ti.dag_id, ti.run_id), []).append(
            FailedStep(
                step_id=ti.task_id.removesuffix(EACH_SUFFIX),
                task_id=ti.task_id,
                map_index=ti.map_index,
                state=str(getattr(ti.state, "value", ti.state)),
                error=error.message if error else None,
                error_class=error.error_class if error else None,
            )
        )
    executions = [
        FailedExecution(**e.model_dump(), failed_steps=steps.get((e.dag_id, e.run_id), [])) for e in page.executions
    ]
    return FailedList(total=page.total, executions=executions, partial=page.partial)


def retry_failed(selection: Sequence[tuple[str, str]], allowed: Collection[str]) -> list[RetryResult]:
    """Retry each selected (key, run_id), in order, once each: a failed run gets its failed and
    upstream-failed steps cleared (Airflow's `dag.clear(only_failed=True)`, as `retry_execution`), so
    the scheduler runs those again and only those; each run in its own transaction, its row locked
    first (the scheduler's pass and this never interleave). `allowed`: the workflows whose runs the
    caller may change; the others are `not_allowed`, never looked up. A run that is not failed (any
    more: retried already, or running) is `not_failed` and left alone."""
    if len(selection) > MAX_RETRY_SELECTION:
        raise ValueError(f"runs: at most {MAX_RETRY_SELECTION} at once")
    results = []
    for key, run_id in dict.fromkeys(selection):
        results.append(_retry_one(key, run_id, allowed))
    return results


def _retry_one(key: str, run_id: str, allowed: Collection[str]) -> RetryResult:
    def result(outcome: RetryOutcome, message: str, steps: list[str] | None = None) -> RetryResult:
        return RetryResult(key=key, run_id=run_id, outcome=outcome, message=message, steps=steps or [])

    if key not in allowed:
        return result("not_allowed", f"you may not change the runs of workflow {key!r}")
    try:
        dag_id = _workflow_dag_id(key)
        with _session() as session:
            dag_run, dag = _dag_run_and_dag(session, dag_id, run_id, lock=True)
            state = str(getattr(dag_run.state, "value", dag_run.state))
            if state != "failed":
                return result("not_failed", f"the execution is {state}, not failed: nothing to retry")
            failed = [
                ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
                for ti in airflow_runs.task_instances(session, dag_id, run_id)
                if ti.state in FAILED_STEP_STATES
            ]
            if not airflow_runs.clear_failed(session, dag, run_id):
                return result("not_failed", "the execution has no failed steps to retry")
    except NotFoundError as exc:
        return result("not_found", str(exc))
    return result("retried", f"{len(failed)} step(s) cleared: Airflow runs them again", sorted(failed))


def _run_row(session: Any, dag_id: str, run_id: str) -> Any:
    DagRun, _ = airflow_models()
    row = session.execute(select(*run_columns()).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"workflow {dag_id.removeprefix('automation__')!r} has no execution {run_id!r}")
    return row


def _step_order(key: str, version: int | None) -> dict[str, int]:
    repo = Repository()
    try:
        definition = repo.get_version(key, version) if version else repo.get(key).definition
    except NotFoundError:
        definition = repo.get(key).definition
    ids = [GATE_TASK_ID, *(s.get("id") for s in definition.get("steps") or [])]
    return {step_id: index for index, step_id in enumerate(ids)}


def _failure_dict(failure: StepFailure) -> dict[str, Any]:
    return {
        "try_number": failure.try_number,
        "error_class": failure.error_class,
        "message": failure.message,
        "will_retry": failure.will_retry,
        "failed_at": failure.failed_at,
    }


def get_execution(key: str, run_id: str) -> ExecutionDetail:
    dag_id = _workflow_dag_id(key)
    with _session() as session:
        row = _run_row(session, dag_id, run_id)
        tis = airflow_runs.task_instances(session, dag_id, run_id)
        xcoms = airflow_runs.return_values(session, dag_id, run_id)
        skipped = airflow_runs.skipped_tasks(session, dag_id, run_id)
        deferred = (
            airflow_runs.deferred_tasks(session, dag_id, run_id)
            if any(ti.state in airflow_runs.WAITING_STATES for ti in tis)
            else []
        )
    waits = {(d["task_id"], d["map_index"]): _step_wait(d, dag_id, run_id) for d in deferred}
    execution = to_executions([row], {dag_id: key})[0]
    records = RunRecords()
    effects = records.effects(dag_id, run_id)
    failures: dict[tuple[str, int], list[StepFailure]] = {}
    for failure in records.failures(dag_id, run_id):
        failures.setdefault((failure.task_id, failure.map_index), []).append(failure)
    order = _step_order(key, execution.version)
    steps = []
    for ti in tis:
        where = (ti.task_id, ti.map_index)
        state = str(getattr(ti.state, "value", ti.state)) if ti.state is not None else None
        attempts = failures.get(where, [])
        last = attempts[-1] if attempts and state in {"failed", "up_for_retry"} else None
        steps.append(
            StepRun(
                task_id=ti.task_id,
                step_id=ti.task_id.removesuffix(EACH_SUFFIX),
                map_index=ti.map_index,
                state=state,
                attempts=ti.try_number or 0,
                started_at=ti.start_date,
                ended_at=ti.end_date,
                duration_s=_seconds(ti.start_date, ti.end_date),
                queued_at=ti.queued_dttm,
                waiting=waits.get(where),
                output=effects[where] if where in effects else xcoms.get(where),
                error=last.message if last else None,
                error_class=last.error_class if last else None,
                failed_attempts=[_failure_dict(f) for f in attempts],
            )
        )
    steps.sort(key=lambda s: (order.get(s.step_id, len(order)), s.task_id, s.map_index))
    skips = [
        StepSkip(
            step_id=row.task_id.removesuffix(EACH_SUFFIX),
            task_id=row.task_id,
            map_index=row.map_index if row.map_index is not None else -1,
            by=row.owner,
            at=row.dttm,
            note=_skip_note(row.extra),
        )
        for row in skipped
    ]
    return ExecutionDetail(**execution.model_dump(), steps=steps, skips=skips)


def _step_wait(deferred: dict[str, Any], dag_id: str, run_id: str) -> StepWait:
    """A deferred task instance (`airflow_runs.deferred_tasks`) as what its step waits on."""
    hitl = deferred["hitl"]
    if hitl is not None and not hitl["answered"]:
        page = f"{airflow_url(dag_id, run_id)}/tasks/{quote(deferred['task_id'], safe='')}"
        page += f"/mapped/{deferred['map_index']}" if deferred["map_index"] >= 0 else ""
        return StepWait(
            kind="awaiting_approval",
            reason="approval",
            since=hitl["asked_at"],
            until=deferred["until"],
            assignees=hitl["assignees"],
            answer_url=f"{page}/required_actions",
        )
    reason = WAIT_REASONS.get(deferred["next_method"] or "", "trigger")
    return StepWait(kind="deferred", reason=reason, since=deferred["since"], until=deferred["until"])


def _skip_note(extra: str | None) -> str | None:
    try:
        found = json.loads(extra or "{}").get("note")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


# -- changes through Airflow ----------------------------------------------------------------------


def _dag_run_and_dag(session: Any, dag_id: str, run_id: str, *, lock: bool = False) -> tuple[Any, Any]:
    dag_run = airflow_runs.dag_run(session, dag_id, run_id, lock=lock)
    if dag_run is None:
        raise NotFoundError(f"workflow {dag_id.removeprefix('automation__')!r} has no execution {run_id!r}")
    dag = airflow_runs.dag_for_run(session, dag_run)
    if dag is None:
        raise NotFoundError(f"Airflow has no DAG {dag_id!r} for execution {run_id!r}")
    return dag_run, dag


def retry_execution(key: str, run_id: str) -> ExecutionDetail:
    """Clear the run's failed and upstream-failed steps (Airflow's `dag.clear(only_failed=True)`), so
    the scheduler runs them again; effect records keep delivered side effects from repeating."""
    dag_id = _workflow_dag_id(key)
    with _session() as session:
        _, dag = _dag_run_and_dag(session, dag_id, run_id)
        cleared = airflow_runs.clear_failed(session, dag, run_id)
        if not cleared:
            raise ConflictError(f"execution {run_id!r} has no failed steps to retry")
    return get_execution(key, run_id)


def cancel_execution(key: str, run_id: str) -> ExecutionDetail:
    """Mark the run failed and stop its running tasks, with the function behind Airflow's
    `PATCH dagRuns/{run_id}` state=failed (listeners notified the same way)."""
    dag_id = _workflow_dag_id(key)
    with _session() as session:
        dag_run, dag = _dag_run_and_dag(session, dag_id, run_id)
        if dag_run.state not in {"queued", "running"}:
            raise ConflictError(f"execution {run_id!r} already ended ({dag_run.state}); only a running one stops")
        airflow_runs.mark_failed(session, dag, dag_run)
    return get_execution(key, run_id)


def skip_step(
    key: str,
    run_id: str,
    step_id: str,
    *,
    map_index: int = -1,
    note: str | None = None,
    user_id: str | None = None,
    user_name: str | None = None,
) -> ExecutionDetail:
    """Mark a failed step skipped, with a note and who did it (kept in Airflow: the task instance's note
    and its audit log), and clear the run's failed and upstream-failed steps: the steps after it wait
    with `none_failed`, so they run and the run can succeed. 404 for a step the run does not have,
    409 when that step is not failed (only a failed step is skipped)."""
    dag_id = _workflow_dag_id(key)
    text = (note or "").strip() or SKIP_NOTE
    if len(text) > SKIP_NOTE_MAX:
        raise ValueError(f"note: at most {SKIP_NOTE_MAX} characters")  # the routes check it first
    with _session() as session:
        # the run's row is locked first: the scheduler cannot fail the run on the step's old state after
        # this marks it skipped (it waits, or this waits and then clears what it held back)
        _, dag = _dag_run_and_dag(session, dag_id, run_id, lock=True)
        found = [
            ti
            for ti in airflow_runs.task_instances(session, dag_id, run_id)
            if ti.task_id.removesuffix(EACH_SUFFIX) == step_id
            and ti.task_id != GATE_TASK_ID
            and ti.map_index == map_index
        ]
        if not found:
            error = NotFoundError(
                f"execution {run_id!r} has no step {step_id!r}" + (f"[{map_index}]" if map_index >= 0 else "")
            )
            error.path = "step_id"  # type: ignore[attr-defined]
            raise error
        ti = found[0]
        state = str(getattr(ti.state, "value", ti.state)) if ti.state is not None else None
        if state != "failed":
            raise ConflictError(f"step {step_id!r} is {state or 'not started'}: only a failed step is skipped")
        airflow_runs.skip_task(
            session, dag, run_id, ti.task_id, ti.map_index, note=text, user_id=user_id, user_name=user_name
        )
        airflow_runs.clear_failed(session, dag, run_id)  # any other failed step of the run goes again too
    return get_execution(key, run_id)
