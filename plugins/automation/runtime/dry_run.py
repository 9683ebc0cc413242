"""Dry run: what a workflow would do for a sample event, with nothing leaving the machine.

The gate and each `when` are evaluated, every config is rendered and validated, record actions
run inside one transaction that is rolled back (so their outputs and row counts are real), and
external actions (email, HTTP, approval) are described instead of run. `isolated_dry_run` does the
same in a worker process with CPU, memory and time limits (for the API: a hostile template costs the
server nothing but that worker).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Any

from automation.actions import ChildRunStarted, Deferred, RunInfo
from automation.conditions import evaluate
from automation.config import dag_id_for
from automation.definitions import Workflow
from automation.errors import AutomationError, StoreError
from automation.jsonable import to_jsonable
from automation.records.registry import get_registry
from automation.runtime.context import condition_data, template_context
from automation.runtime.executor import execute_step
from automation.runtime.expand import expand_trigger
from automation.runtime.isolated import run_isolated
from automation.runtime.step_notices import planned_notices
from automation.store.db import database_url, engine


@dataclass
class StepPlan:
    step: str
    action: str
    status: str  # would_run | skipped | planned | error | not_reached
    detail: str | None = None
    config: dict[str, Any] | None = None
    output: Any = None
    #: on_success/on_retry/on_failure -> title, body, recipients, level (as on the first attempt)
    notices: dict[str, Any] | None = None


@dataclass
class DryRunReport:
    workflow: str
    version: int
    conditions_met: bool
    steps: list[StepPlan] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _trigger(workflow: Workflow, event: dict[str, Any]) -> dict[str, Any]:
    if workflow.trigger.type == "webhook":  # a delivery's body is `trigger.body`, as in a real run
        return {"type": "webhook", **event, "body": event.get("body", event.get("new") or {})}
    if "new" in event or "old" in event or workflow.trigger.type == "record_event":
        return {"type": workflow.trigger.type, **event}
    return {"type": workflow.trigger.type, "params": event.get("params", event)}


def dry_run(workflow: Workflow, version: int, event: dict[str, Any]) -> DryRunReport:
    trigger = expand_trigger(workflow, _trigger(workflow, event))
    context = template_context(workflow, version, trigger, run={"id": "dry-run", "dag_id": dag_id_for(workflow.key)})
    try:
        met = evaluate(workflow.conditions, condition_data(workflow, context))
    except AutomationError as exc:
        return DryRunReport(workflow.key, version, False, error=f"conditions: {exc}")
    report = DryRunReport(workflow.key, version, met)
    if not met:
        report.steps = [StepPlan(s.id, s.type, "skipped", "conditions are false") for s in workflow.steps]
        return report
    outputs: dict[str, Any] = {}
    with engine(get_registry().connection_id).connect() as conn:
        transaction = conn.begin()
        try:
            for step in workflow.steps:
                if report.error:
                    report.steps.append(StepPlan(step.id, step.type, "not_reached"))
                    continue
                run = RunInfo(dag_id_for(workflow.key), "dry-run", step.id, workflow_key=workflow.key,
                              workflow_version=version)  # fmt: skip
                values = {**context, "steps": {k: {"output": v} for k, v in outputs.items()}}
                try:
                    result = execute_step(workflow, step, values, run, dry_run=True, connection=conn)
                except AutomationError as exc:
                    report.steps.append(StepPlan(step.id, step.type, "error", str(exc)))
                    if not step.continue_on_failure:
                        report.error = f"step {step.id!r} would fail: {exc}"
                    continue
                status = {"success": "would_run", "deferred": "planned"}.get(result.status, result.status)
                detail = result.reason
                if isinstance(result.outcome, Deferred):
                    detail = f"would wait until {result.outcome.until.isoformat()}"
                if isinstance(result.outcome, ChildRunStarted):
                    detail = f"would start {result.outcome.dag_id}"
                outputs[step.id] = result.output
                notices = planned_notices(workflow, step, values, result.output, performed=status == "would_run")
                report.steps.append(
                    StepPlan(step.id, step.type, status, detail, result.rendered_config, result.output, notices)
                )
        finally:
            transaction.rollback()
    return report


def prepare_isolated() -> None:
    """Run once by the isolated workers' helper (`automation.runtime.isolated`): what every dry run loads
    and that does not depend on the environment, so that each forked worker starts with it."""
    import psycopg2  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg2  # noqa: F401

    from automation.actions.registry import action_names, get_action
    from automation.templating import render_value

    for name in action_names():  # imported, and their config models built (pydantic defers that)
        action = get_action(name)
        if action is not None:
            action.config_model.model_rebuild()
    render_value("{{ x ~ 'y' }}{% for i in [1] %}{{ i }}{% endfor %}", {"x": "x"})
    with contextlib.suppress(Exception):  # re-read by the worker if the file changed meanwhile
        get_registry()


def dry_run_report(workflow: Workflow, version: int, event: dict[str, Any]) -> dict[str, Any]:
    """`dry_run`'s report as JSON-ready data."""
    return to_jsonable(dry_run(workflow, version, event).as_dict())


def isolated_dry_run(workflow: Workflow, version: int, event: dict[str, Any]) -> dict[str, Any]:
    """`dry_run_report` in a worker process limited by [automation] template_cpu_seconds, _MEMORY_MB and
    _WALL_SECONDS; a worker stopped by a limit is a `TemplateError` saying which."""
    env = {}
    connection_id = get_registry().connection_id
    with contextlib.suppress(StoreError):  # resolved here: the worker needs no Airflow import to find it
        env[f"AIRFLOW_CONN_{connection_id.upper()}"] = database_url(connection_id)
    return run_isolated(dry_run_report, workflow, version, event, env=env)
