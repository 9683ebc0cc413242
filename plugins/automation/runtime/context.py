"""Build what templates and conditions see from an Airflow task context.

Invariant: templates and conditions see the same names, those definitions.triggers.template_names
lists; the record's other names (`deal`, an alias, an expanded `organisation`) come from
definitions.triggers.record_names, bound to the record after the change (`old_values`: before)."""

from __future__ import annotations

from typing import Any

import pendulum

from automation.conditions import ConditionData, RecordReader, StoreReader
from automation.definitions import RecordEventTrigger, Workflow
from automation.definitions.triggers import record_names


def trigger_payload(airflow_context: dict[str, Any], workflow: Workflow | None = None) -> dict[str, Any]:
    """What started a run that no event started (no partition key): for a record-event `workflow`, the
    record the run is for (its ledger event, runtime.record_run); else the run's conf (`trigger`, from a
    `trigger_workflow` step), else the params."""
    dag_run = airflow_context.get("dag_run")
    if workflow is not None and isinstance(workflow.trigger, RecordEventTrigger):
        from automation.runtime.record_run import manual_run_trigger

        return manual_run_trigger(workflow, dag_run, dict(airflow_context.get("params") or {}))
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
        **_record_values(workflow, new),
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


def _record_values(workflow: Workflow, record: dict[str, Any]) -> dict[str, Any]:
    """The record's other names (record_names) bound to `record` or to its expanded relations."""
    names = record_names(workflow.trigger, workflow.settings.expand)
    return {name: record if relation is None else record.get(relation) for name, relation in names.items()}


def condition_data(workflow: Workflow, context: dict[str, Any], reader: RecordReader | None = None) -> ConditionData:
    """Values for conditions: the template names (with `deal.amount`, `organisation.x`); `old_values`
    binds the same names to the previous state, for `changed`. Lookups read through `reader`
    (default: the record store, on a pooled connection taken at the first lookup)."""
    new, old = context["new"], context["old"]
    values = {**context, **_record_values(workflow, new)}
    old_values = {**context, **_record_values(workflow, old), "new": old, "entity": old}
    return ConditionData(values=values, old_values=old_values, reader=reader or StoreReader())
