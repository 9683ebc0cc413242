"""Dry run: the real pipeline of a run for a sample event, with its effects suppressed.

The same gate as a real run decides first (`event_gate.decide` with a ledger that writes nothing, then
the ordering per record's `waiting_for`, `delayed_start`, then the conditions), so the report starts
with `would_run` and, when not, the `reason`. Then every step goes through `execute_step` as in Airflow:
`when` evaluated, config rendered and validated, record actions run inside one transaction that is
rolled back (so their outputs and row counts are real); external actions (email, HTTP, approval) are not
performed: their `refusal` is asked (egress allow-list...) and they are described, or take the output
the caller mocks for them.
A step whose action lists items (for_each) renders and runs its inner step once per item.
Schedule workflows get `run.logical_date` and `run.data_interval_start/end` of the slot `at` (default:
the latest scheduled time before now).

`isolated_dry_run` does the same in a worker process with CPU, memory and time limits (for the API: a
hostile template costs the server nothing but that worker).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pendulum

from automation.actions import ChildRunStarted, Deferred, Delivered, RunInfo, get_action
from automation.conditions import LookupRead, evaluate
from automation.config import DB_CONN_ID, dag_id_for
from automation.definitions import ScheduleTrigger, Step, Workflow
from automation.definitions.triggers import EVENT_TRIGGERS, POLL_ENTITY
from automation.errors import AutomationError, DefinitionError, Issue, StoreError
from automation.jsonable import to_jsonable
from automation.records.registry import get_registry
from automation.runtime.context import condition_data, template_context
from automation.runtime.event_gate import DryRunLedger, decide, delayed_start
from automation.runtime.executor import StepResult, execute_step
from automation.runtime.expand import expand_trigger
from automation.runtime.isolated import run_isolated
from automation.runtime.ordering import UnfinishedRuns, waiting_for
from automation.runtime.step_notices import planned_notices
from automation.store.db import database_url, engine

#: The most items of a list step (for_each) a dry run renders one by one; the rest are counted.
MAX_PLANNED_ITEMS = 50
DRY_RUN_ID = "dry-run"


@dataclass
class ItemPlan:
    index: int
    status: str  # would_run | skipped | planned | error
    detail: str | None = None
    config: dict[str, Any] | None = None
    output: Any = None


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
    #: a step that runs per item (for_each): each item's plan
    items: list[ItemPlan] | None = None


@dataclass
class DryRunReport:
    #: whether a real run for this event would run its steps; `reason` says why not (or when it would)
    would_run: bool
    reason: str | None
    workflow: str
    version: int
    conditions_met: bool
    steps: list[StepPlan] = field(default_factory=list)
    error: str | None = None
    #: the run values templates saw (`run.*`): the logical date and data interval of the slot
    run: dict[str, Any] = field(default_factory=dict)
    #: what the conditions looked up (collection, id, column, value, found), in evaluation order
    lookups: list[LookupRead] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _event_type(workflow: Workflow, event: dict[str, Any]) -> str | None:
    """The sample event's type: as given, else `updated` when it has an old state the trigger takes,
    else the first type the trigger subscribes to."""
    if event.get("event"):
        return str(event["event"])
    events = list(getattr(workflow.trigger, "events", None) or [])
    if event.get("old") and "updated" in events:
        return "updated"
    return events[0] if events else None


def _trigger(workflow: Workflow, event: dict[str, Any]) -> dict[str, Any]:
    kind = workflow.trigger.type
    if kind == "webhook":  # a delivery's body is `trigger.body`, as in a real run (headers and query: given or none)
        sample = {"headers": {}, "query": {}, **event}
        return {"type": "webhook", **sample, "body": event.get("body", event.get("new") or {})}
    if kind == "poll":  # the polled item is `trigger.item`, also `new` and `entity` (runtime/poll.sample_event)
        item = event.get("item", event.get("new") or {})
        return {"type": "poll", "entity": POLL_ENTITY, "event": workflow.key, **event, "new": item, "item": item}
    if "new" in event or "old" in event or kind in ("record_event", "inactivity"):
        trigger = {"type": kind, **event}
        if entity := getattr(workflow.trigger, "entity", None):
            trigger.setdefault("entity", entity if isinstance(entity, str) else entity[0])
        if kind == "record_event":
            trigger["event"] = _event_type(workflow, event)
        return trigger
    return {"type": kind, "params": event.get("params", event)}


def latest_slot(trigger: ScheduleTrigger, before: datetime | None = None) -> pendulum.DateTime:
    """The latest time the cron schedules at or before `before` (default: now), in UTC."""
    from croniter import croniter

    moment = pendulum.instance(before) if before is not None else pendulum.now("UTC")
    local = moment.in_timezone(trigger.timezone)
    if croniter.match(trigger.cron, local):
        return local.replace(second=0, microsecond=0).in_timezone("UTC")
    previous = croniter(trigger.cron, local).get_prev(datetime)
    return pendulum.instance(previous).in_timezone("UTC")


def run_values(workflow: Workflow, at: datetime | None) -> dict[str, Any]:
    """`run.*` as a real run of the slot `at` sees them. A schedule's run is the cron slot (its logical
    date, and a data interval that starts and ends there, as CronTriggerTimetable gives); runs of other
    triggers have no logical date in Airflow unless one is given (`at`)."""
    trigger = workflow.trigger
    moment = pendulum.instance(at).in_timezone("UTC") if at is not None else None
    if isinstance(trigger, ScheduleTrigger) and moment is None:
        moment = latest_slot(trigger)
    iso = moment.isoformat() if moment is not None else None
    return {"id": DRY_RUN_ID, "dag_id": dag_id_for(workflow.key), "logical_date": iso,
            "data_interval_start": iso, "data_interval_end": iso}  # fmt: skip


def unknown_mock_issues(workflow: Workflow, mocks: Mapping[str, Any], path: str = "mocks") -> list[Issue]:
    """An issue at `<path>.<id>` for each mocked step id the workflow does not have."""
    ids = [step.id for step in workflow.steps]
    return [
        Issue(f"{path}.{step_id}", f"the workflow has no step {step_id!r}; its steps: {', '.join(ids) or 'none'}")
        for step_id in mocks
        if step_id not in ids
    ]


def _check_mocks(workflow: Workflow, mocks: dict[str, Any]) -> dict[str, Delivered]:
    issues = unknown_mock_issues(workflow, mocks)
    if issues:
        raise DefinitionError(issues)
    return {key: Delivered(to_jsonable(value)) for key, value in mocks.items()}


def _unfinished_runs(workflow: Workflow) -> UnfinishedRuns:
    """How many of the workflow's runs are still going, from Airflow's database; where it cannot be read
    (no metadata database here), every run that claimed an earlier event counts as going."""

    def unfinished(run_ids: list[str]) -> list[str]:
        try:
            from automation.airflow_adapter.runs import unfinished_runs

            return unfinished_runs(dag_id_for(workflow.key), run_ids)
        except Exception:  # a dry run says "would wait" rather than fail on Airflow's database
            return run_ids

    return unfinished


def _gate(workflow: Workflow, context: dict[str, Any], seen: list[LookupRead]) -> tuple[bool, str | None, bool]:
    """(would run, reason, conditions met): the event checks, the delay, then the conditions (their
    lookups appended to `seen`)."""
    delay_note = None
    if workflow.trigger.type in EVENT_TRIGGERS:
        decision = decide(workflow, context["trigger"], DRY_RUN_ID, DryRunLedger())
        if not decision.run:
            return False, f"{decision.outcome}: {decision.reason}", False
        if decision.outcome == "debounce_wait":
            delay_note = f"debounced: {decision.reason}"
        wait = waiting_for(workflow, context["trigger"], _unfinished_runs(workflow))
        if wait is not None:
            delay_note = f"ordered: {wait.reason}; then the conditions decide"
        moment = delayed_start(workflow, context["trigger"])
        if moment is not None and moment > pendulum.now("UTC"):
            delay_note = f"delayed until {moment.isoformat()} (the trigger's delay); then the conditions decide"
    met = evaluate(workflow.conditions, condition_data(workflow, context), seen=seen)
    if not met:
        return False, "conditions_false: the conditions are false", False
    return True, delay_note, True


def _plan(result: StepResult) -> tuple[str, str | None]:
    status = {"success": "would_run", "deferred": "planned"}.get(result.status, result.status)
    detail = result.reason
    if isinstance(result.outcome, Deferred):
        detail = f"would wait until {result.outcome.until.isoformat()}"
    if isinstance(result.outcome, ChildRunStarted):
        detail = f"would start {result.outcome.dag_id}" + (" and wait for it" if result.outcome.wait else "")
    return status, detail


def dry_run(
    workflow: Workflow,
    version: int,
    event: dict[str, Any],
    *,
    at: datetime | None = None,
    mocks: dict[str, Any] | None = None,
) -> DryRunReport:
    """`at`: the run's logical date (default: a schedule's latest slot, else now); `mocks`: step id ->
    the output a step the dry run does not perform (email, HTTP, approval, wait...) gives later steps."""
    mocked = _check_mocks(workflow, mocks or {})
    trigger = expand_trigger(workflow, _trigger(workflow, event))
    run = run_values(workflow, at)
    context = template_context(workflow, version, trigger, run=run)
    if at is not None:
        context["now"] = pendulum.instance(at).in_timezone("UTC")
    seen: list[LookupRead] = []
    try:
        would_run, reason, met = _gate(workflow, context, seen)
    except AutomationError as exc:
        return DryRunReport(False, f"error: {exc}", workflow.key, version, False, error=f"conditions: {exc}", run=run,
                            lookups=seen)  # fmt: skip
    report = DryRunReport(would_run, reason, workflow.key, version, met, run=run, lookups=seen)
    if not would_run:
        why = "conditions are false" if reason and reason.startswith("conditions_false") else reason
        report.steps = [StepPlan(s.id, s.type, "skipped", why) for s in workflow.steps]
        return report
    outputs: dict[str, Any] = {}
    with engine(get_registry().connection_id).connect() as conn:
        transaction = conn.begin()
        try:
            for step in workflow.steps:
                if report.error:
                    report.steps.append(StepPlan(step.id, step.type, "not_reached"))
                    continue
                values = {**context, "steps": {k: {"output": v} for k, v in outputs.items()}}
                plan = _step_plan(workflow, version, step, values, conn, mocked.get(step.id))
                if plan.status == "error" and not workflow.settings.continues_after_failure(step.continue_on_failure):
                    report.error = f"step {step.id!r} would fail: {plan.detail}"
                outputs[step.id] = plan.output
                report.steps.append(plan)
        finally:
            transaction.rollback()
    return report


def _run_info(workflow: Workflow, version: int, step: Step, map_index: int = -1) -> RunInfo:
    return RunInfo(dag_id_for(workflow.key), DRY_RUN_ID, step.id, map_index=map_index, workflow_key=workflow.key,
                   workflow_version=version)  # fmt: skip


def _step_plan(
    workflow: Workflow, version: int, step: Step, values: dict[str, Any], conn: Any, mock: Delivered | None
) -> StepPlan:
    try:
        result = execute_step(workflow, step, values, _run_info(workflow, version, step), dry_run=True,
                              connection=conn, mock=mock)  # fmt: skip
    except AutomationError as exc:
        return StepPlan(step.id, step.type, "error", str(exc))
    status, detail = _plan(result)
    output = result.output
    if mock is not None and result.status == "deferred":  # waits / child runs / approvals: the mock stands in
        output, detail = mock.output, f"{detail} (then outputs the mock given)"
    items = None
    action = get_action(step.type)
    inner = action.per_item_step(step) if action is not None and result.status == "success" else None
    if inner is not None and isinstance(output, list):
        items = _item_plans(workflow, version, step, inner, values, conn, output)
        failed = next((i for i in items if i.status == "error"), None)
        if failed is not None:
            status, detail = "error", f"item {failed.index}: {failed.detail}"
    notices = planned_notices(workflow, step, values, output, performed=status == "would_run")
    return StepPlan(step.id, step.type, status, detail, result.rendered_config, output, notices, items)


def _item_plans(
    workflow: Workflow, version: int, step: Step, inner: Step, values: dict[str, Any], conn: Any, items: list[Any]
) -> list[ItemPlan]:
    plans = []
    for index, item in enumerate(items[:MAX_PLANNED_ITEMS]):
        run = _run_info(workflow, version, step, map_index=index)
        try:
            result = execute_step(workflow, inner, {**values, "item": item, "index": index}, run, dry_run=True,
                                  connection=conn)  # fmt: skip
        except AutomationError as exc:
            plans.append(ItemPlan(index, "error", str(exc)))
            continue
        status, detail = _plan(result)
        plans.append(ItemPlan(index, status, detail, result.rendered_config, result.output))
    if len(items) > MAX_PLANNED_ITEMS:
        plans.append(ItemPlan(MAX_PLANNED_ITEMS, "planned", f"and {len(items) - MAX_PLANNED_ITEMS} more items"))
    return plans


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


def dry_run_report(
    workflow: Workflow,
    version: int,
    event: dict[str, Any],
    *,
    at: datetime | None = None,
    mocks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`dry_run`'s report as JSON-ready data (`would_run` and `reason` first)."""
    return to_jsonable(dry_run(workflow, version, event, at=at, mocks=mocks).as_dict())


def _report_positional(
    workflow: Workflow, version: int, event: dict[str, Any], at: datetime | None, mocks: dict[str, Any] | None
) -> dict[str, Any]:
    return dry_run_report(workflow, version, event, at=at, mocks=mocks)


def isolated_dry_run(
    workflow: Workflow,
    version: int,
    event: dict[str, Any],
    *,
    at: datetime | None = None,
    mocks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`dry_run_report` in a worker process limited by [automation] template_cpu_seconds, _MEMORY_MB and
    _WALL_SECONDS; a worker stopped by a limit is a `TemplateError` saying which."""
    env = {}
    for connection_id in dict.fromkeys((get_registry().connection_id, DB_CONN_ID)):
        with contextlib.suppress(StoreError):  # resolved here: the worker needs no Airflow import to find it
            env[f"AIRFLOW_CONN_{connection_id.upper()}"] = database_url(connection_id)
    return run_isolated(_report_positional, workflow, version, event, at, mocks, env=env)
