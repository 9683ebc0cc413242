"""Workflow model -> DAG plan: everything `factory.build` needs to make a workflow's DAGs, as plain JSON.

A plan is made once from a fully validated workflow (`plan_for`) and kept by the parse in the state
directory (`factory.validated`), so the next parses and the task processes build the DAGs from it
without the definition models, the actions or, in a task process, the database: what a hand-written
DAG file does not pay either.

Invariant: a plan holds only JSON types, and `build.dags_from_plan(plan_for(w, v))` gives the DAGs that
workflow `w` at version `v` defines. A step's tasks are recorded as the calls its action's
`build_tasks` makes on the `TaskKit`, replayed by the builder.
"""

from __future__ import annotations

from typing import Any, get_args

from automation.actions import Action, get_action
from automation.config import dag_id_for
from automation.definitions import Status, Step, Workflow
from automation.definitions.notices import NoticeKind
from automation.definitions.triggers import (
    EVENT_TRIGGERS,
    POLL_ENTITY,
    SCAN_SUFFIX,
    InactivityTrigger,
    ManualTrigger,
    PollTrigger,
    RecordEventTrigger,
    ScheduleTrigger,
    Trigger,
    WebhookTrigger,
    inactivity_event,
)
from automation.factory.doc import doc_md

_NOTICE_KINDS = get_args(NoticeKind)


def schedule_plan(trigger: Trigger, key: str) -> dict[str, Any] | None:
    """A cron (schedule triggers) or the (entity, event) assets a run is made for; None: manual only."""
    if isinstance(trigger, ScheduleTrigger):
        return {"cron": trigger.cron, "timezone": trigger.timezone}
    if isinstance(trigger, InactivityTrigger):  # runs per record; the scan DAG has the cron
        return {"assets": [[trigger.entity, inactivity_event(key)]]}
    if isinstance(trigger, RecordEventTrigger):
        events = sorted(set(trigger.events))  # one asset per (entity, event)
        return {"assets": [[entity, event] for entity in sorted(trigger.entities) for event in events]}
    if isinstance(trigger, WebhookTrigger):
        return {"assets": [["webhook", key]]}
    if isinstance(trigger, PollTrigger):  # runs per new item; the poll DAG has the cron
        return {"assets": [[POLL_ENTITY, key]]}
    return None


def record_params(trigger: RecordEventTrigger) -> dict[str, Any]:
    """A record-event workflow's params: the record a manual run is for (runtime.record_run). Each has
    a valid default (None, the default event), as Airflow validates the params of every run, the
    event runs' too (those ignore them)."""
    from automation.records.registry import get_registry
    from automation.runtime.record_run import default_event

    entities, collections = trigger.entities, get_registry().collections
    kinds = {collections[e].columns.get(collections[e].primary_key) if e in collections else None for e in entities}
    # integer keys: a number field in the form (its first type), or the digits as text (a template's "42")
    id_schema: dict[str, Any] = {"type": ["string", "null"], "title": "Record id", "maxLength": 200}
    if kinds == {"integer"}:
        id_schema.update(type=["integer", "string", "null"], pattern=r"^-?[0-9]{1,18}$")
    elif kinds != {"string"}:
        id_schema["type"] = ["integer", "string", "null"]
    params: dict[str, Any] = {
        "entity_id": {
            "default": None,
            "description": f"Run for one {' or '.join(entities)} record: its id (empty for an event's run)",
            "schema": id_schema,
        },
        "event": {
            "default": default_event(trigger),
            "description": "The event the run is for",
            "schema": {"type": "string", "enum": sorted(set(trigger.events)), "title": "Event"},
        },
    }
    if len(entities) > 1:
        params["entity"] = {
            "default": entities[0],
            "description": "The record's collection",
            "schema": {"type": "string", "enum": entities, "title": "Collection"},
        }
    return params


def params_plan(trigger: Trigger) -> dict[str, Any]:
    """Manual trigger inputs as Airflow Params (default, description, JSON Schema), so the UI's trigger
    form asks for them; a record-event workflow's record (`record_params`)."""
    if isinstance(trigger, RecordEventTrigger):
        return record_params(trigger)
    if not isinstance(trigger, ManualTrigger):
        return {}
    params: dict[str, Any] = {}
    for name, spec in sorted(trigger.inputs.items()):
        schema: dict[str, Any] = {"type": spec.type if spec.required else [spec.type, "null"]}
        if spec.enum is not None:
            schema["enum"] = spec.enum
        if spec.title:
            schema["title"] = spec.title
        params[name] = {"default": spec.default, "description": spec.description, "schema": schema}
    return params


class _Token:
    """What the recording kit hands back for one task: its index in the step's task calls."""

    def __init__(self, index: int) -> None:
        self.index = index


class TaskCalls:
    """A `TaskKit` that records the calls an action's `build_tasks` makes (the builder replays them)."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []

    def _call(self, name: str, *tasks: _Token) -> _Token:
        self.calls.append([name, *(t.index for t in tasks)])
        return _Token(len(self.calls) - 1)

    def step(self) -> _Token:
        return self._call("step")

    def each(self, items: Any) -> _Token:
        return self._call("each", items)

    def approval(self) -> _Token:
        return self._call("approval")


def task_calls(step: Step) -> dict[str, Any]:
    """The step's task calls and which of them are its first and last task (an unknown action: one
    step task, which fails saying so when it runs)."""
    action: Action[Any] | None = get_action(step.type)
    kit = TaskCalls()
    first, last = action.build_tasks(kit) if action is not None else (kit.step(),) * 2
    if not isinstance(first, _Token) or not isinstance(last, _Token):
        raise TypeError(f"the action {step.type!r}: build_tasks must return two tasks that its TaskKit made")
    return {"calls": kit.calls, "first": first.index, "last": last.index}


def step_collections(step: Step) -> list[str]:
    """The registry collections a step's config names (`collection`, `*_collection` keys, or their
    defaults), for an action that touches records; templated names are left out."""
    action: Action[Any] | None = get_action(step.type)
    if action is None or not action.capabilities.needs_registry:
        return []
    names = set()
    for field, info in action.config_model.model_fields.items():
        if field == "collection" or field.endswith("_collection"):
            value = step.config.get(field, info.default)
            if isinstance(value, str) and "{" not in value:
                names.add(value)
    return sorted(names)


def step_pool(step: Step, workflow: Workflow) -> str | None:
    """The step's Airflow pool: the tightest concurrency limit of the collections it touches, else the
    workflow's `settings.pool`, else None (Airflow's default pool)."""
    from automation.records.registry import get_registry

    touched = step_collections(step)
    if touched:
        registry = get_registry()
        limited = sorted(
            (spec.concurrency, name)
            for name in touched
            if (spec := registry.collections.get(name)) is not None and spec.concurrency is not None
        )
        if limited:
            return registry.pool_for(limited[0][1])
    return workflow.settings.pool


def retry_plan(step: Step, workflow: Workflow) -> dict[str, Any]:
    """The step's retries: `retries` is the most any error class may use (Airflow's cap), `policy` the
    per-class rules and the step's own default (what the retry policy of runtime.retry reads)."""
    settings = workflow.settings
    retries = step.retries if step.retries is not None else settings.retries
    delay = step.retry_delay if step.retry_delay is not None else settings.retry_delay
    rules = settings.retry_policy.rules() if settings.retry_policy is not None else {}
    classes = {
        name: {
            "retries": rule.retries if rule.retries is not None else retries,
            "delay": rule.delay if rule.delay is not None else delay,
            "backoff": rule.backoff,
            "max_delay": rule.max_delay if rule.max_delay is not None else settings.max_retry_delay,
        }
        for name, rule in rules.items()
    }
    most = max([retries, *(c["retries"] for c in classes.values())])
    return {"retries": most, "retry_delay": delay, "policy": {"default": retries, "classes": classes}}


def _task_args(step: Step, workflow: Workflow, trigger_rule: str) -> dict[str, Any]:
    settings = workflow.settings
    policy = workflow.notify_policy(step)
    retry = retry_plan(step, workflow)
    return {
        "notices": [kind for kind in _NOTICE_KINDS if policy.notice(kind)] if policy is not None else [],
        "retries": retry["retries"],
        "retry_delay": retry["retry_delay"],
        "max_retry_delay": settings.max_retry_delay,
        "retry_policy": retry["policy"],
        "execution_timeout": step.timeout if step.timeout is not None else settings.timeout,
        "priority_weight": settings.priority,
        "owner": settings.owner,
        "trigger_rule": trigger_rule,
        "pool": step_pool(step, workflow),
        "pool_slots": settings.pool_slots,
        "queue": settings.queue,
    }


def _alerts(workflow: Workflow) -> dict[str, Any]:
    alerts = workflow.settings.alerts
    deadline = None
    if alerts.deadline is not None:
        deadline = {
            "seconds": alerts.deadline,
            "kwargs": {"key": workflow.key, "name": workflow.name, "deadline_s": alerts.deadline,
                       "recipients": alerts.email, "notify": alerts.notify},
        }  # fmt: skip
    return {"settings": alerts.model_dump(mode="json"), "deadline": deadline}


def _scan(workflow: Workflow, trigger: InactivityTrigger | PollTrigger) -> dict[str, Any]:
    """The cron DAG that turns what it finds into ledger events: an inactivity scan, or a poll."""
    settings = workflow.settings
    if isinstance(trigger, PollTrigger):
        kind, cron, name = "poll", trigger.cron, f"{workflow.name} (poll)"
        where = f"{trigger.conn_id} {trigger.path or '/'}"
        description = f"Polls {where} and starts {dag_id_for(workflow.key)} per new item"
    else:
        kind, cron, name = "inactivity", trigger.scan_cron, f"{workflow.name} (inactivity scan)"
        description = f"Finds {trigger.entity} idle for {trigger.days} days and starts {dag_id_for(workflow.key)}"
    return {
        "kind": kind,
        "dag_id": f"{dag_id_for(workflow.key)}{SCAN_SUFFIX}",
        "name": name,
        "description": description,
        "cron": cron,
        "timezone": trigger.timezone,
        "tags": sorted({"automation", f"{kind}-scan" if kind == "inactivity" else kind, *settings.tags}),
        "retries": settings.retries,
        "retry_delay": settings.retry_delay,
        "owner": settings.owner,
        "queue": settings.queue,
    }


def plan_for(workflow: Workflow, version: int) -> dict[str, Any]:
    trigger, settings = workflow.trigger, workflow.settings
    upstream = workflow.upstream_map()
    by_id = {s.id: s for s in workflow.steps}
    steps = []
    for step in workflow.steps:
        upstream_ids = upstream[step.id]
        rule = "none_failed"
        if upstream_ids and all(settings.continues_after_failure(by_id[u].continue_on_failure) for u in upstream_ids):
            rule = "all_done"
        steps.append({
            "id": step.id, "name": step.name or step.id, "upstream": upstream_ids, "tasks": task_calls(step),
            "args": _task_args(step, workflow, rule),
        })  # fmt: skip
    gate = None
    if workflow.conditions is not None or trigger.type in EVENT_TRIGGERS:
        gate = {"retries": settings.retries, "retry_delay": settings.retry_delay,
                "priority_weight": settings.priority, "owner": settings.owner, "queue": settings.queue}  # fmt: skip
    return {
        "key": workflow.key,
        "version": version,
        "dag_id": dag_id_for(workflow.key),
        "name": workflow.name,
        "description": (workflow.description or workflow.name)[:500],
        "schedule": schedule_plan(trigger, workflow.key),
        "timezone": getattr(trigger, "timezone", "UTC"),
        "catchup": getattr(trigger, "catchup", False),
        "max_active_runs": settings.max_active_runs,
        "run_timeout": settings.run_timeout,
        "tags": sorted({"automation", trigger.type, *settings.tags}),
        "params": params_plan(trigger),
        "doc_md": doc_md(workflow, version),
        "paused": workflow.status != Status.ACTIVE,
        "alerts": _alerts(workflow),
        "steps": steps,
        "gate": gate,
        "scan": _scan(workflow, trigger) if isinstance(trigger, InactivityTrigger | PollTrigger) else None,
    }
