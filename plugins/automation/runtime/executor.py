"""Run one step: evaluate `when`, render the config, validate it, run the action.

Used by the step operator in Airflow and by the dry run, so both behave the same.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from automation.actions import ActionContext, RunInfo, get_action
from automation.conditions import evaluate
from automation.definitions import Step, Workflow
from automation.errors import PermanentActionError
from automation.jsonable import to_jsonable
from automation.records.store import RecordStore, records_engine
from automation.runtime.context import condition_data
from automation.templating import render_value
from automation.validation import parse_step_config


@dataclass
class StepResult:
    status: str  # "success" | "skipped" | "planned"
    output: Any = None
    reason: str | None = None
    rendered_config: dict[str, Any] | None = None


def execute_step(
    workflow: Workflow,
    step: Step,
    context: dict[str, Any],
    run: RunInfo,
    *,
    dry_run: bool = False,
    connection: Connection | None = None,
) -> StepResult:
    """`connection`: run record actions on it (the dry run passes one it rolls back)."""
    if step.when is not None and not evaluate(step.when, condition_data(workflow, context), f"{step.id}.when"):
        return StepResult("skipped", reason=f"step {step.id!r}: `when` is false")
    rendered = render_value(step.config, context, f"steps.{step.id}.config")
    config = parse_step_config(step, rendered)
    action = get_action(step.type)
    if action is None:
        raise PermanentActionError(f"unknown action {step.type!r}")
    if dry_run and action.external:
        return StepResult("planned", rendered_config=rendered, reason="external effect not sent in a dry run")

    with ExitStack() as stack:
        store: RecordStore | None = None

        def records() -> RecordStore:
            nonlocal store
            if store is None:
                conn = connection or stack.enter_context(records_engine().begin())
                store = RecordStore(conn)
            return store

        ctx = ActionContext(run=run, template_context=context, records_factory=records, dry_run=dry_run)
        output = to_jsonable(action.run(config, ctx))
    return StepResult("success", output=output, rendered_config=rendered)
