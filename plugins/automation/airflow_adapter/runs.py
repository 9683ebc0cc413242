"""Airflow's DAG runs, task instances and XComs: the ORM models the executions and statistics query,
and the changes the product makes to runs (retention deletes, retry, cancel) through Airflow's code.

Relies on:
- `airflow.models.dagrun.DagRun`, `airflow.models.taskinstance.TaskInstance` (ORM models, read with
  SQL: the REST API pages through runs one request at a time, so per-day counts and percentiles over
  thousands of runs would cost thousands of requests) and the columns in `RUN_COLUMNS` / `TI_COLUMNS`.
- `airflow.models.xcom.XComModel` (`deserialize_value`): step outputs of a run in one query.
- `airflow.models.dagbag.DBDagBag.get_dag_for_run` and the serialized DAG's `clear(only_failed=True)`:
  what "clear failed tasks" does (the REST `clearTaskInstances` needs a token and a running api-server;
  the executions API runs in it, in-process).
- `airflow.api_fastapi.core_api.services.public.dag_run.patch_dag_run_state`: the function behind
  `PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}` (state=failed), so listeners are notified the same way.
- `SerializedDAG.set_task_instance_state` (what `PATCH .../taskInstances/{task_id}` with `new_state`
  calls: it also clears the task's failed and upstream-failed downstream tasks so the run goes on),
  `TaskInstance.note` (the `(content, user_id)` setter the REST API's note uses) and
  `airflow.models.log.Log` (Airflow's audit log, the rows the REST API's `action_logging` writes), so
  skipping a step is the REST call's effect, done in-process and recorded with the user's name.
- `TaskInstance.queued_dttm`, `next_method`, `trigger_id`, `trigger_timeout`, `airflow.models.trigger.Trigger`
  (`classpath`, `created_date`, the decrypted `kwargs` for a `DateTimeTrigger`'s `moment` only) and
  `airflow.models.hitl.HITLDetail` (`hitl_detail`: created_at, assignees, responded_at): what a deferred
  step waits on, for the execution's timeline.
- a `DELETE` on `dag_run`, which Airflow's schema cascades to task instances, XComs, HITL rows and
  history (what `airflow db clean` does for a table, but per run).
- `airflow.api.common.trigger_dag.trigger_dag` (with `DagRunTriggeredByType`, `DagNotFound`,
  `DagRunAlreadyExists`; a refused run id or conf is a `ValueError`): what `airflow dags trigger`
  calls to start a manual run (it validates the conf against the DAG's params, as the REST API's
  trigger does), so a run for a record is started in-process, without a token or an api-server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from automation.airflow_adapter.db import metadata_session, require_metadata_db
from automation.errors import ConflictError

#: DagRun / TaskInstance columns the package reads (the adapter's tests check that each exists).
RUN_COLUMNS = ("id", "dag_id", "run_id", "run_type", "state", "start_date", "end_date", "run_after",
               "partition_key", "conf")  # fmt: skip
TI_COLUMNS = ("dag_id", "run_id", "task_id", "map_index", "state", "try_number", "start_date", "end_date",
              "queued_dttm", "next_method", "trigger_id")  # fmt: skip


def run_models() -> tuple[Any, Any]:
    """The ORM models (DagRun, TaskInstance) of the installed Airflow, for SQL over their `*_COLUMNS`."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance

    return DagRun, TaskInstance


def task_instances(session: Any, dag_id: str, run_id: str) -> list[Any]:
    """Rows (task_id, map_index, state, try_number, start_date, end_date, queued_dttm) of the run's task
    instances."""
    from sqlalchemy import select

    _, TI = run_models()
    query = select(TI.task_id, TI.map_index, TI.state, TI.try_number, TI.start_date, TI.end_date, TI.queued_dttm).where(
        TI.dag_id == dag_id, TI.run_id == run_id
    )
    return list(session.execute(query).all())


#: the trigger whose `moment` kwarg says until when a deferred task waits (the standard provider's)
DATETIME_TRIGGER = "airflow.providers.standard.triggers.temporal.DateTimeTrigger"


#: the task instance states of a step that waits without a worker slot: deferred to the triggerer, or
#: parked for a person's answer (Airflow 3.3's HITL: no trigger, `trigger_timeout` is the answer's timeout)
WAITING_STATES = ("deferred", "awaiting_input")


def deferred_tasks(session: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """What the run's deferred or awaiting-input task instances (`WAITING_STATES`) wait on, each a dict:
    task_id, map_index, next_method (the method the task resumes in), since (the trigger row's
    `created_date`: when it deferred), until (a `DateTimeTrigger`'s `moment`, else the `trigger_timeout`),
    trigger (the trigger's class name) and, for a human-in-the-loop task (`hitl_detail`,
    `airflow.models.hitl.HITLDetail`), `hitl`: asked_at, assignees (the user ids, None = anyone allowed)
    and whether it was answered. Nothing else of the trigger's (encrypted) kwargs leaves here."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.trigger import Trigger
    from sqlalchemy import select

    _, TI = run_models()
    query = (
        select(TI.task_id, TI.map_index, TI.next_method, TI.trigger_timeout, Trigger, HITLDetail)
        .outerjoin(Trigger, Trigger.id == TI.trigger_id)
        .outerjoin(HITLDetail, HITLDetail.ti_id == TI.id)
        .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.state.in_(WAITING_STATES))
    )
    found = []
    for row in session.execute(query).all():
        trigger, hitl = row[4], row[5]
        until = row.trigger_timeout
        if trigger is not None and trigger.classpath == DATETIME_TRIGGER:
            try:
                moment = trigger.kwargs.get("moment")
            except Exception:  # undecryptable (a rotated Fernet key): the moment is unknown
                moment = None
            until = moment if isinstance(moment, datetime) else until
        found.append(
            {
                "task_id": row.task_id,
                "map_index": row.map_index,
                "next_method": row.next_method,
                "since": trigger.created_date if trigger is not None else None,
                "until": until,
                "trigger": trigger.classpath.rsplit(".", 1)[-1] if trigger is not None else None,
                "hitl": None
                if hitl is None
                else {
                    "asked_at": hitl.created_at,
                    "assignees": [str(u.get("id")) for u in hitl.assignees] if hitl.assignees else None,
                    "answered": hitl.responded_at is not None,
                },
            }
        )
    return found


def task_instances_in(session: Any, runs: Iterable[tuple[str, str]], states: Iterable[str]) -> list[Any]:
    """Rows (dag_id, run_id, task_id, map_index, state) of the task instances in `states` of these
    (dag_id, run_id) runs, by task id: one query for a page of runs."""
    from sqlalchemy import select, tuple_

    wanted = list(runs)
    if not wanted:
        return []
    _, TI = run_models()
    query = (
        select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state)
        .where(tuple_(TI.dag_id, TI.run_id).in_(wanted), TI.state.in_(list(states)))
        .order_by(TI.dag_id, TI.run_id, TI.task_id, TI.map_index)
    )
    return list(session.execute(query).all())


def return_values(session: Any, dag_id: str, run_id: str) -> dict[tuple[str, int], Any]:
    """The run's `return_value` XComs, deserialized, by (task_id, map_index)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    rows = session.execute(
        select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
        )
    ).all()
    return {(r.task_id, r.map_index): XComModel.deserialize_value(r) for r in rows}


def dag_run(session: Any, dag_id: str, run_id: str, *, lock: bool = False) -> Any | None:
    """The run's ORM object (its `state`...), or None. `lock`: hold its row until the session ends, as
    the scheduler does while it schedules the run, so a change made here and the scheduler's pass over
    the same run never interleave (one waits for the other's commit)."""
    from sqlalchemy import select

    DagRun, _ = run_models()
    query = select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    return session.scalar(query.with_for_update() if lock else query)


def dag_for_run(session: Any, run: Any) -> Any | None:
    """The serialized DAG (the version) the run executes, or None when Airflow has none stored."""
    from airflow.models.dagbag import DBDagBag

    return DBDagBag().get_dag_for_run(run, session=session)


def clear_failed(session: Any, dag: Any, run_id: str) -> int:
    """Clear the run's failed and upstream-failed task instances, so the scheduler runs them again;
    how many were cleared."""
    return int(dag.clear(run_id=run_id, only_failed=True, session=session) or 0)


def mark_failed(session: Any, dag: Any, run: Any) -> None:
    """Mark the run failed and stop its running tasks, as `PATCH dagRuns/{run_id}` state=failed does."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import DagRunMutableStates
    from airflow.api_fastapi.core_api.services.public.dag_run import patch_dag_run_state

    patch_dag_run_state(dag=dag, dag_run=run, state=DagRunMutableStates.FAILED, session=session)


#: the audit log event of a step skipped through the automation (Airflow's own are the route names)
SKIP_EVENT = "automation_skip_step"


def skip_task(
    session: Any,
    dag: Any,
    run_id: str,
    task_id: str,
    map_index: int,
    *,
    note: str,
    user_id: str | None,
    user_name: str | None,
) -> None:
    """Mark the task instance skipped with `note`
    (by `user_id`), as `PATCH .../taskInstances/{task_id}` does, so its failed and upstream-failed
    downstream tasks are cleared and run; and add the audit log row saying who skipped it, when, why."""
    import json

    from airflow.models.log import Log
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    _, TI = run_models()
    instance = session.scalar(
        select(TI).where(TI.dag_id == dag.dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index == map_index)
    )
    if instance.task_instance_note is None:
        instance.note = (note, user_id)
    else:
        instance.task_instance_note.content = note
        instance.task_instance_note.user_id = user_id
    session.add(Log(event=SKIP_EVENT, task_instance=instance, owner=user_name, extra=json.dumps({"note": note})))
    dag.set_task_instance_state(
        task_id=task_id,
        run_id=run_id,
        map_indexes=None if map_index < 0 else [map_index],
        state=TaskInstanceState.SKIPPED,
        commit=True,
        session=session,
    )


def skipped_tasks(session: Any, dag_id: str, run_id: str) -> list[Any]:
    """The run's audit log rows of skipped steps, oldest first: (task_id, map_index, dttm, owner, extra)."""
    from airflow.models.log import Log
    from sqlalchemy import select

    query = (
        select(Log.task_id, Log.map_index, Log.dttm, Log.owner, Log.extra)
        .where(Log.dag_id == dag_id, Log.run_id == run_id, Log.event == SKIP_EVENT)
        .order_by(Log.dttm, Log.id)
    )
    return list(session.execute(query).all())


def finished_runs_beyond(
    dag_id_prefix: str, keep_last: int, states: Iterable[str]
) -> list[tuple[int, str, str, datetime]]:
    """(id, dag_id, run_id, run_after) of runs in `states` of the DAGs whose id starts with
    `dag_id_prefix`, except each DAG's newest `keep_last` runs (of any state)."""
    from sqlalchemy import func, select

    DagRun, _ = run_models()
    newest_first = func.row_number().over(partition_by=DagRun.dag_id, order_by=DagRun.run_after.desc())
    ranked = (
        select(DagRun.id, DagRun.dag_id, DagRun.run_id, DagRun.run_after, DagRun.state, newest_first.label("rank"))
        .where(DagRun.dag_id.startswith(dag_id_prefix, autoescape=True))
        .subquery()
    )
    query = select(ranked.c.id, ranked.c.dag_id, ranked.c.run_id, ranked.c.run_after).where(
        ranked.c.rank > keep_last, ranked.c.state.in_(list(states))
    )
    with metadata_session() as session:
        return [(int(pk), dag_id, run_id, run_after) for pk, dag_id, run_id, run_after in session.execute(query)]


def delete_runs(run_pks: list[int]) -> None:
    """Delete these runs; Airflow's schema cascades to their task instances, XComs, HITL rows, history."""
    from sqlalchemy import delete

    DagRun, _ = run_models()
    with metadata_session() as session:
        session.execute(delete(DagRun).where(DagRun.id.in_(run_pks)))


def trigger_manual_run(
    dag_id: str, conf: dict[str, Any], *, run_id: str | None = None, user: str | None = None, via: str = "rest_api"
) -> str:
    """Start a manual run of the DAG (queued, as Airflow's trigger does) and return its run id. `via`:
    how it was triggered (`rest_api`, `cli`). `ConflictError` when Airflow does not have the DAG yet or
    the run id is taken (its `path` says which); `ValueError` when Airflow refuses the run id or conf."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagNotFound, DagRunAlreadyExists
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    require_metadata_db()
    try:
        with metadata_session() as session:
            run = trigger_dag(dag_id, triggered_by=DagRunTriggeredByType(via), run_type=DagRunType.MANUAL,
                              triggering_user_name=user, run_id=run_id, conf=conf, session=session)  # fmt: skip
            if run is None:  # trigger_dag's signature allows it; it returns the run it made
                raise ConflictError(f"Airflow made no run of the DAG {dag_id}")
            return str(run.run_id)
    except DagNotFound:
        raise ConflictError(
            f"Airflow does not have the DAG {dag_id} yet (it appears when the DAG file is next parsed); retry shortly"
        ) from None
    except DagRunAlreadyExists as exc:
        error = ConflictError(f"the DAG {dag_id} already has a run {exc.dag_run.run_id!r}")
        error.path = "run_id"  # type: ignore[attr-defined]
        raise error from None


def unfinished_runs(dag_id: str, run_ids: list[str]) -> list[str]:
    """Those of these runs of the DAG that are queued or running (a run not found counts as finished)."""
    from sqlalchemy import select

    DagRun, _ = run_models()
    query = select(DagRun.run_id).where(
        DagRun.dag_id == dag_id, DagRun.run_id.in_(run_ids), DagRun.state.in_(["queued", "running"])
    )
    with metadata_session() as session:
        going = set(session.scalars(query))
    return [run_id for run_id in run_ids if run_id in going]
