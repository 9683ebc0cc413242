"""What a workflow does with one ledger event before its conditions: exactly once per (event,
workflow), no loops, field-change filter, throttle and debounce. Every outcome is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pendulum

from automation.definitions import RecordEventTrigger, Workflow
from automation.definitions.triggers import FieldOffset
from automation.store.ledger import EventLedger, event_payload
from automation.templating.sandbox import relative_datetime


@dataclass(frozen=True)
class Decision:
    run: bool
    outcome: str  # pending | duplicate | loop | depth | fields_unchanged | throttled | debounce_wait
    reason: str | None = None
    wait_seconds: int | None = None
    scope: str | None = None


@lru_cache(maxsize=1024)
def _event(event_id: int) -> dict[str, Any] | None:
    return EventLedger().get(event_id)


def event_trigger(workflow: Workflow, partition_key: str) -> dict[str, Any]:
    """The trigger data of a run started by a ledger event (the ledger is the source of truth)."""
    row = _event(int(partition_key))
    if row is None:
        raise LookupError(f"event {partition_key} is not in the ledger")
    payload = event_payload(row)
    if workflow.trigger.type == "webhook":
        payload["body"] = payload["new"]
    return {"type": workflow.trigger.type, **payload}


def _scope(workflow: Workflow, trigger: dict[str, Any]) -> str:
    throttle = workflow.settings.throttle
    if throttle is None or throttle.scope == "global":
        return "global"
    return f"{trigger.get('entity')}:{trigger.get('id')}"


def decide(workflow: Workflow, trigger: dict[str, Any], run_id: str, ledger: EventLedger) -> Decision:
    event_id, key = trigger["event_id"], workflow.key
    owner = ledger.claim_run(event_id, key, run_id)
    if owner is not None:
        return Decision(False, "duplicate", f"event {event_id} already handled by run {owner}")
    if trigger.get("origin") == key:
        return Decision(False, "loop", "caused by this workflow's own action; not re-triggered")
    if int(trigger.get("depth") or 0) > workflow.settings.max_depth:
        return Decision(False, "depth", f"depth {trigger.get('depth')} is over max_depth {workflow.settings.max_depth}")
    spec = workflow.trigger
    if isinstance(spec, RecordEventTrigger) and spec.fields and trigger.get("event") == "updated":
        new, old = trigger.get("new") or {}, trigger.get("old") or {}
        if not any(new.get(f) != old.get(f) for f in spec.fields):
            return Decision(False, "fields_unchanged", f"none of {spec.fields} changed")
    throttle = workflow.settings.throttle
    if throttle is not None:
        scope = _scope(workflow, trigger)
        if throttle.mode == "throttle" and not ledger.throttle(key, scope, event_id, throttle.window):
            return Decision(False, "throttled", f"another event of {scope} ran less than {throttle.window} s ago")
        if throttle.mode == "debounce":
            ledger.debounce_mark(key, scope, event_id)
            return Decision(True, "debounce_wait", wait_seconds=throttle.window, scope=scope)
    return Decision(True, "pending")


def delayed_start(workflow: Workflow, trigger: dict[str, Any]) -> pendulum.DateTime | None:
    """When the steps of an event's run may start: `delay` after the event, or at a record field
    plus an offset; None without a delay (or when the field is empty)."""
    spec = workflow.trigger
    delay = getattr(spec, "delay", None)
    if delay is None:
        return None
    if isinstance(delay, FieldOffset):
        base = (trigger.get("new") or {}).get(delay.field)
        return relative_datetime(delay.offset, base) if base else None
    return relative_datetime(delay, trigger.get("received_at"))
