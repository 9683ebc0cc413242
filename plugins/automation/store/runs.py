"""What the store knows about Airflow runs of workflow DAGs: the version each ran, the event that
started it, the effects its steps delivered and why step attempts failed. Batch reads (one query
per page of runs), so listings and statistics never query once per run."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert

from automation.store import tables as t
from automation.store.db import UsesDatabase
from automation.store.ledger import event_payload
from automation.store.query import where_equal

#: Longest message stored; a longer one (a response body, a traceback) is cut with a marker.
MAX_MESSAGE = 4000


@dataclass(frozen=True)
class StepFailure:
    task_id: str
    map_index: int
    try_number: int
    error_class: str
    message: str
    will_retry: bool
    failed_at: datetime


@dataclass(frozen=True)
class FailureCount:
    dag_id: str
    task_id: str
    message: str
    count: int


def _failure_columns() -> list[Any]:
    """The `step_failures` columns of a `StepFailure`."""
    c = t.step_failures.c
    return [c.task_id, c.map_index, c.try_number, c.error_class, c.message, c.will_retry, c.failed_at]


class RunRecords(UsesDatabase):
    # -- step failures ---------------------------------------------------------------------------

    def record_failure(
        self,
        *,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int,
        try_number: int,
        error_class: str,
        message: str,
        will_retry: bool,
    ) -> None:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 15] + " ... (truncated)"
        values = {"error_class": error_class[:200], "message": message, "will_retry": will_retry}
        where = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index}
        with self.engine.begin() as conn:
            conn.execute(
                pg_insert(t.step_failures)
                .values(**where, try_number=try_number, **values)
                .on_conflict_do_update(
                    index_elements=["dag_id", "run_id", "task_id", "map_index", "try_number"],
                    set_={**values, "failed_at": func.now()},
                )
            )

    def failures(self, dag_id: str, run_id: str) -> list[StepFailure]:
        """Every failed attempt of a run, oldest first."""
        c = t.step_failures.c
        query = (
            select(*_failure_columns())
            .where(c.dag_id == dag_id, c.run_id == run_id)
            .order_by(c.task_id, c.map_index, c.try_number)
        )
        with self.engine.connect() as conn:
            return [StepFailure(**r) for r in conn.execute(query).mappings()]

    def last_failures(self, runs: Collection[tuple[str, str]]) -> dict[tuple[str, str, str, int], StepFailure]:
        """The latest failed attempt of each step of these (dag_id, run_id) runs, by (dag_id, run_id,
        task_id, map_index): one query for a page of runs."""
        if not runs:
            return {}
        c = t.step_failures.c
        query = (
            select(c.dag_id, c.run_id, *_failure_columns())
            .where(tuple_(c.dag_id, c.run_id).in_(list(runs)))
            .ext(distinct_on(c.dag_id, c.run_id, c.task_id, c.map_index))
            .order_by(c.dag_id, c.run_id, c.task_id, c.map_index, c.try_number.desc())
        )
        with self.engine.connect() as conn:
            found = {}
            for r in conn.execute(query).mappings():
                where = (r["dag_id"], r["run_id"], r["task_id"], r["map_index"])
                found[where] = StepFailure(**{k: v for k, v in r.items() if k not in {"dag_id", "run_id"}})
            return found

    def failure_counts(self, dag_ids: Collection[str], since: datetime, until: datetime) -> list[FailureCount]:
        """Failed attempts in a period per (DAG, task, message), most frequent first: one query."""
        if not dag_ids:
            return []
        c = t.step_failures.c
        count = func.count().label("count")
        query = (
            select(c.dag_id, c.task_id, c.message, count)
            .where(c.dag_id.in_(list(dag_ids)), c.failed_at >= since, c.failed_at < until)
            .group_by(c.dag_id, c.task_id, c.message)
            .order_by(count.desc(), c.dag_id, c.task_id, c.message)
        )
        with self.engine.connect() as conn:
            return [FailureCount(**r) for r in conn.execute(query).mappings()]

    # -- per-run facts, in batches ---------------------------------------------------------------

    def versions(self, runs: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The definition version each (dag_id, run_id) executed (pinned by its first task)."""
        if not runs:
            return {}
        c = t.run_versions.c
        query = select(c.dag_id, c.run_id, c.version).where(tuple_(c.dag_id, c.run_id).in_(list(runs)))
        with self.engine.connect() as conn:
            return {(row.dag_id, row.run_id): row.version for row in conn.execute(query)}

    def events(self, pairs: Collection[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
        """Ledger events by (workflow_key, event_id), as steps see them (`trigger.*`), with what that
        workflow did with each (`outcome`, `reason`: ran, conditions_false, throttled, ...)."""
        if not pairs:
            return {}
        e, r = t.events, t.event_runs
        ids = sorted({event_id for _, event_id in pairs})
        with self.engine.connect() as conn:
            events = {row["id"]: row for row in conn.execute(select(e).where(e.c.id.in_(ids))).mappings()}
            outcomes = {
                (row.workflow_key, row.event_id): row
                for row in conn.execute(
                    select(r.c.workflow_key, r.c.event_id, r.c.outcome, r.c.reason).where(
                        tuple_(r.c.workflow_key, r.c.event_id).in_(list(pairs))
                    )
                )
            }
        found = {}
        for key, event_id in pairs:
            if event_id in events:
                outcome = outcomes.get((key, event_id))
                found[(key, event_id)] = {
                    **event_payload(events[event_id]),
                    "outcome": outcome.outcome if outcome else None,
                    "reason": outcome.reason if outcome else None,
                }
        return found

    def runs_of_events(
        self,
        *,
        event_id: int | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        before: datetime | None = None,
        limit: int,
    ) -> tuple[list[int], list[tuple[str, str]], bool]:
        """The ledger events matching (`event_id`, `entity`, `entity_id`; received before `before`),
        newest first and at most `limit` of them, the (workflow_key, run_id) of the runs that claimed
        them, and whether more events matched than `limit`: two queries."""
        e, r = t.events.c, t.event_runs.c
        query = select(e.id)
        query = where_equal(query, (e.id, event_id), (e.entity, entity), (e.entity_id, entity_id))
        if before is not None:
            query = query.where(e.received_at < before)
        with self.engine.connect() as conn:
            ids = list(conn.execute(query.order_by(e.id.desc()).limit(limit + 1)).scalars())
            capped = len(ids) > limit
            ids = ids[:limit]
            if not ids:
                return [], [], capped
            claims = conn.execute(select(r.workflow_key, r.run_id).where(r.event_id.in_(ids))).all()
        return ids, [(row.workflow_key, row.run_id) for row in claims], capped

    def claimed_events(self, runs: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The ledger event each (workflow_key, run_id) claimed, for runs whose partition key names none
        (a manual run for a record): one query."""
        if not runs:
            return {}
        r = t.event_runs.c
        query = select(r.workflow_key, r.run_id, r.event_id).where(tuple_(r.workflow_key, r.run_id).in_(list(runs)))
        with self.engine.connect() as conn:
            return {(row.workflow_key, row.run_id): row.event_id for row in conn.execute(query)}

    def effects(self, dag_id: str, run_id: str) -> dict[tuple[str, int], Any]:
        """What each step of a run delivered, by (task_id, map_index)."""
        c = t.effects.c
        query = select(c.task_id, c.map_index, c.output).where(c.dag_id == dag_id, c.run_id == run_id)
        with self.engine.connect() as conn:
            return {(row.task_id, row.map_index): row.output for row in conn.execute(query)}
