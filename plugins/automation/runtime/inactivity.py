"""The scan task of an `inactivity` workflow: records idle for N days become ledger events, one
per record and idle period (the idempotency key holds the activity time), so each starts one run
of the workflow's DAG and a later scan never starts it again for the same period."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from automation.definitions import InactivityTrigger
from automation.definitions.conditions import AllGroup, Clause
from automation.definitions.triggers import inactivity_event
from automation.jsonable import to_jsonable
from automation.records.registry import get_registry
from automation.records.store import RecordStore, records_engine
from automation.runtime.operators import PinnedRunMixin, task_kwargs
from automation.store.ledger import EventLedger


def idle_records(trigger: InactivityTrigger) -> list[dict[str, Any]]:
    idle = Clause(field=trigger.activity_field, op="older_than_days", value=trigger.days)
    condition = AllGroup(all=[idle, trigger.filter]) if trigger.filter else idle
    with records_engine(collection=trigger.entity).connect() as conn:
        return RecordStore(conn).select_where(trigger.entity, condition, trigger.max_records)


def inactivity_rows(key: str, trigger: InactivityTrigger, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pk = get_registry().collection(trigger.entity).primary_key
    rows = []
    for record in to_jsonable(records):
        rows.append({
            "idempotency_key": f"inactive:{key}:{record[pk]}:{record.get(trigger.activity_field)}"[:200],
            "entity": trigger.entity,
            "entity_id": str(record[pk]),
            "event": inactivity_event(key),
            "new_data": record,
            "actor": f"inactivity-scan:{key}",
            "source": "outbox",
        })  # fmt: skip
    return rows


class InactivityScanOperator(BaseOperator, PinnedRunMixin):
    template_fields = ()
    ui_color = "#e6f4ea"

    def __init__(self, *, workflow_key: str, workflow_version: int, **kwargs: Any) -> None:
        super().__init__(**task_kwargs(kwargs))
        self.workflow_key = workflow_key
        self.workflow_version = workflow_version

    def execute(self, context: Any) -> dict[str, int]:
        workflow, _ = self.pinned(context)
        trigger = workflow.trigger
        assert isinstance(trigger, InactivityTrigger)
        records = idle_records(trigger)
        stored = EventLedger().append(inactivity_rows(workflow.key, trigger, records))
        started = sum(1 for _, created in stored if created)
        self.log.info("%s idle %s record(s); %s new (the rest were already started for this period)",
                      len(records), trigger.entity, started)  # fmt: skip
        return {"idle": len(records), "started": started}
