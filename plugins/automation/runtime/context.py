"""Build what templates and conditions see from an Airflow task context."""

from __future__ import annotations

from typing import Any

import pendulum

from automation.conditions import ConditionData, RecordReader, StoreReader
from automation.definitions import Workflow


def trigger_payload(airflow_context: dict[str, Any]) -> dict[str, Any]:
    """The event that started the run: from the run's conf (`trigger`), else the params."""
    dag_run = airflow_context.get("dag_run")
    conf = dict(getattr(dag_run, "conf", None) or {})
    trigger = conf.get("trigger")
    if isinstance(trigger, dict):
        return trigger
    return {"type": "manual", "params": dict(airflow_context.get("params") or {})}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_info(airflow_context: dict[str, Any]) -> dict[str, Any]:
    dag_run = airflow_context.get("dag_run")
    return {
        "id": getattr(dag_run, "run_id", None),
        "dag_id": getattr(dag_run, "dag_id", None),
        "logical_date": _iso(airflow_context.get("logical_date")),
        "data_interval_start": _iso(airflow_context.get("data_interval_start")),
        "data_interval_end": _iso(airflow_context.get("data_interval_end")),
    }


def template_context(
    workflow: Workflow,
    version: int,
    trigger: dict[str, Any],
    *,
    run: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    step_outputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    new = trigger.get("new") or {}
    return {
        "trigger": trigger,
        "entity": new,
        "new": new,
        "old": trigger.get("old") or {},
        "params": params or trigger.get("params") or {},
        "steps": {sid: {"output": out} for sid, out in (step_outputs or {}).items()},
        "run": run or {},
        "workflow": {"key": workflow.key, "name": workflow.name, "version": version},
        "now": pendulum.now("UTC"),
    }


def _entity_names(entity: str | None) -> list[str]:
    """`deals` is also reachable as `deal`, so `deal.amount` reads naturally."""
    if not entity:
        return []
    return [entity, entity[:-1]] if entity.endswith("s") else [entity]


def condition_data(workflow: Workflow, context: dict[str, Any], reader: RecordReader | None = None) -> ConditionData:
    """Values for conditions: the template names plus the entity's own name (`deal.amount`);
    `old_values` binds the same names to the previous state, for `changed`. Lookups read through
    `reader` (default: the record store, on a pooled connection taken at the first lookup)."""
    new, old = context["new"], context["old"]
    names = _entity_names(getattr(workflow.trigger, "entity", None))
    values = {**context, **dict.fromkeys(names, new)}
    old_values = {**context, "new": old, "entity": old, **dict.fromkeys(names, old)}
    return ConditionData(values=values, old_values=old_values, reader=reader or StoreReader())
