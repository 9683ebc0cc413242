"""Run one step: evaluate `when`, render the config, validate it, `execute` the action, record the effect.

Used by the step operators in Airflow and by the dry run, so both behave the same. The action's
`Outcome` comes back unchanged in the `StepResult`; the operator acts on it (defer, start a child run,
ask a person), the dry run reports it.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from automation.actions import ActionContext, Delivered, Outcome, RunInfo, Skipped, get_action
from automation.capture import effects as app_effects
from automation.conditions import evaluate
from automation.config import DB_CONN_ID
from automation.definitions import Step, Workflow
from automation.errors import PermanentActionError
from automation.jsonable import to_jsonable
from automation.records.registry import get_registry
from automation.records.store import Origin, RecordStore
from automation.runtime.context import condition_data
from automation.store.db import engine
from automation.store.ledger import EventLedger
from automation.store.repository import EffectStore
from automation.templating import render_value
from automation.validation import parse_step_config


@dataclass
class StepResult:
    #: success | skipped | recorded (returned the effect of an earlier try) | planned (dry run: not
    #: performed) | deferred (waits, starts a child run or asks a person: `outcome` says which)
    status: str
    output: Any = None
    reason: str | None = None
    rendered_config: dict[str, Any] | None = None
    outcome: Outcome | None = None


class _Connections:
    """Lazily opened transactions, one per database; the dry run passes one to roll back."""

    def __init__(self, stack: ExitStack, shared: Connection | None) -> None:
        self.stack = stack
        self.shared = shared
        self.open: dict[str, Connection] = {}

    def get(self, conn_id: str) -> Connection:
        if self.shared is not None:
            return self.shared
        if conn_id not in self.open:
            self.open[conn_id] = self.stack.enter_context(engine(conn_id).begin())
        return self.open[conn_id]


def record_events(changes: list[dict[str, Any]], run: RunInfo, depth: int) -> list[dict[str, Any]]:
    """Ledger rows for what a step changed: other workflows can react; this one will not
    re-trigger itself (origin), and chains stop at max_depth."""
    registry = get_registry()
    rows = []
    for index, change in enumerate(changes):
        record = change["new"] or change["old"] or {}
        pk = registry.collection(change["collection"]).primary_key
        rows.append({
            "idempotency_key": f"step:{run.dag_id}:{run.run_id}:{run.task_id}:{run.map_index}:{index}"[:200],
            "entity": change["collection"],
            "entity_id": None if record.get(pk) is None else str(record.get(pk)),
            "event": change["event"],
            "old_data": to_jsonable(change["old"]),
            "new_data": to_jsonable(change["new"]),
            "actor": f"workflow:{run.workflow_key}",
            "origin_workflow": run.workflow_key,
            "depth": depth,
            "source": "outbox",
        })  # fmt: skip
    return rows


def render_step(workflow: Workflow, step: Step, context: dict[str, Any]) -> tuple[dict[str, Any], Any] | None:
    """None when `when` is false; else the rendered config and its validated model."""
    if step.when is not None and not evaluate(step.when, condition_data(workflow, context), f"{step.id}.when"):
        return None
    action = get_action(step.type)
    later = action.unrendered if action else frozenset()
    rendered = {
        key: value if key in later else render_value(value, context, f"steps.{step.id}.config.{key}")
        for key, value in step.config.items()
    }
    return rendered, parse_step_config(step, rendered)


def execute_step(
    workflow: Workflow,
    step: Step,
    context: dict[str, Any],
    run: RunInfo,
    *,
    dry_run: bool = False,
    connection: Connection | None = None,
    mock: Delivered | None = None,
) -> StepResult:
    """`connection`: run every database action on it (the dry run passes one it rolls back).
    `dry_run`: an external action is not performed: its `refusal` is asked and it is described (or, with
    `mock`, it is taken to have delivered that output)."""
    prepared = render_step(workflow, step, context)
    if prepared is None:
        reason = f"step {step.id!r}: `when` is false"
        return StepResult("skipped", reason=reason, outcome=Skipped(reason))
    rendered, config = prepared
    action = get_action(step.type)
    if action is None:
        raise PermanentActionError(f"unknown action {step.type!r}")
    if dry_run and action.external:
        plan = f"would {action.describe(config)}"
        if mock is not None:
            return StepResult("planned", output=mock.output, rendered_config=rendered, outcome=mock,
                              reason=f"{plan} (not performed; its output is the mock given)")  # fmt: skip
        refused = _refusal(action, config, context, run)
        if refused:
            plan += f"; refused here: {refused}"
        return StepResult("planned", rendered_config=rendered, reason=plan)
    app_conn_ids = get_registry().connection_ids() - {DB_CONN_ID}
    effect_key = (run.dag_id, run.run_id, run.task_id, run.map_index)
    depth = int((context.get("trigger") or {}).get("depth") or 0) + 1
    keyed = action.idempotent and not dry_run
    with ExitStack() as stack:
        conns = _Connections(stack, connection)
        if keyed and not step.repeat_on_clear:
            # a separate short read: the action's own transaction must not start before it runs
            with engine(DB_CONN_ID).connect() as check:
                done, output = EffectStore(check).recorded(run.dag_id, run.run_id, run.task_id, run.map_index)
            if not done and app_conn_ids:  # committed in an app database, the automation commit lost
                done, output = app_effects.recorded(app_conn_ids, effect_key)
            if done:
                return StepResult("recorded", output=output, rendered_config=rendered,
                                  reason="already delivered by an earlier try; not repeated")  # fmt: skip
        store: RecordStore | None = None

        def records() -> RecordStore:
            nonlocal store
            if store is None:
                conns.get(DB_CONN_ID)  # opened first, committed last: an app database commits before it
                origin = Origin(run.workflow_key, depth, f"workflow:{run.workflow_key}")
                store = RecordStore(None, origin=origin, connections=conns.get)
            return store

        ctx = ActionContext(
            run=run,
            template_context=context,
            records_factory=records,
            effects_factory=lambda: EffectStore(conns.get(DB_CONN_ID)),
            dry_run=dry_run,
        )
        if dry_run and (refused := action.refusal(config, ctx)):
            raise PermanentActionError(f"step {step.id!r}: {refused}")
        try:
            outcome = action.execute(config, ctx)
        except (IntegrityError, DataError) as exc:  # the data is wrong: another attempt fails the same way
            raise PermanentActionError(f"step {step.id!r}: the database refused the change: {exc.orig}") from exc
        if isinstance(outcome, Skipped):
            return StepResult("skipped", reason=outcome.reason, rendered_config=rendered, outcome=outcome)
        if not isinstance(outcome, Delivered):
            return StepResult("deferred", output=getattr(outcome, "output", None), rendered_config=rendered,
                              outcome=outcome)  # fmt: skip
        output = to_jsonable(outcome.output)
        if store is not None and store.ledger_changes() and not dry_run:
            EventLedger.append_on(conns.get(DB_CONN_ID), record_events(store.ledger_changes(), run, depth))
        if keyed and store is not None:  # with the change, in each app database it was made in
            for conn_id in sorted(store.written & app_conn_ids):
                app_effects.record(conns.get(conn_id), effect_key, action.name, output, run.try_number)
        if keyed:
            ctx.effects.record(run.dag_id, run.run_id, run.task_id, run.map_index, action.name, output, run.try_number)
    return StepResult("success", output=output, rendered_config=rendered, outcome=Delivered(output))


def _refusal(action: Any, config: Any, context: dict[str, Any], run: RunInfo) -> str | None:
    """`action.refusal` for a step a dry run does not perform (no database work expected of it)."""

    def no_database() -> Any:
        raise PermanentActionError("a dry run does not open the database for an external step")

    ctx = ActionContext(run=run, template_context=context, records_factory=no_database, effects_factory=no_database,
                        dry_run=True)  # fmt: skip
    try:
        return action.refusal(config, ctx)
    except Exception as exc:  # a check that cannot be made is said, never fails the dry run
        return f"could not be checked: {exc}"
