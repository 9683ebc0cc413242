"""What a workflow does with one ledger event before its conditions: subscribed event type, exactly
once per (event, workflow), no loops, field-change filter, throttle and debounce; then the trigger's
delay. Every outcome of a real run is recorded.

Invariant: the conditions task of a real run and the dry run decide with the same `decide` and
`delayed_start`; they differ only in the `GateLedger` they pass (the dry run's reads the same state and
writes nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Protocol

import pendulum
from sqlalchemy import select

from automation.definitions import RecordEventTrigger, Workflow
from automation.definitions.triggers import FieldOffset
from automation.store import tables as t
from automation.store.db import engine
from automation.store.ledger import EventLedger, event_payload
from automation.templating.sandbox import relative_datetime


@dataclass(frozen=True)
class Decision:
    run: bool
    #: pending | not_subscribed | duplicate | loop | depth | fields_unchanged | throttled | debounce_wait
    outcome: str
    reason: str | None = None
    wait_seconds: float | None = None
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
    if workflow.trigger.type == "webhook":  # old_data holds the delivery's headers and query (api/webhooks.py)
        request = payload["old"]
        headers, query = request.get("headers") or {}, request.get("query") or {}
        payload.update(body=payload["new"], old={}, headers=headers, query=query)
    if workflow.trigger.type == "poll":  # the polled item (runtime/poll.py), also `new`
        payload["item"] = payload["new"]
    return {"type": workflow.trigger.type, **payload}


def _scope(workflow: Workflow, trigger: dict[str, Any]) -> str:
    throttle = workflow.settings.throttle
    if throttle is None or throttle.scope == "global":
        return "global"
    return f"{trigger.get('entity')}:{trigger.get('id')}"


class GateLedger(Protocol):
    """The ledger state the gate reads and (in a real run) writes. `event_id`: the ledger id of the
    event (an int), None for a dry run's sample event."""

    def claim_run(self, event_id: Any, workflow_key: str, run_id: str) -> str | None: ...

    def throttle(self, workflow_key: str, scope_key: str, event_id: Any, window_seconds: float) -> bool: ...

    def debounce_mark(self, workflow_key: str, scope_key: str, event_id: Any) -> None: ...


class DryRunLedger:
    """The gate's ledger in a dry run: the same answers from the current state, nothing written. A sample
    event (no ledger id) is claimed by nobody; throttling reads the scope's open window."""

    def claim_run(self, event_id: int | None, workflow_key: str, run_id: str) -> str | None:
        if event_id is None:
            return None
        with engine().connect() as conn:
            return conn.execute(
                select(t.event_runs.c.run_id).where(
                    t.event_runs.c.event_id == event_id, t.event_runs.c.workflow_key == workflow_key
                )
            ).scalar_one_or_none()

    def throttle(self, workflow_key: str, scope_key: str, event_id: int | None, window_seconds: float) -> bool:
        with engine().connect() as conn:
            last = conn.execute(
                select(t.throttle_state.c.last_at).where(
                    t.throttle_state.c.workflow_key == workflow_key, t.throttle_state.c.scope_key == scope_key
                )
            ).scalar_one_or_none()
        return last is None or last < pendulum.now("UTC") - timedelta(seconds=window_seconds)

    def debounce_mark(self, workflow_key: str, scope_key: str, event_id: int | None) -> None:
        return None


def subscription_refusal(workflow: Workflow, trigger: dict[str, Any]) -> str | None:
    """Why the workflow's trigger does not take this event (another entity or event type), or None. In
    Airflow the event's asset already routes it; a dry run's sample event is checked here."""
    spec = workflow.trigger
    if not isinstance(spec, RecordEventTrigger):
        return None
    entity, event, entities = trigger.get("entity"), trigger.get("event"), ", ".join(spec.entities)
    if entity and entity not in spec.entities:
        return f"the workflow is triggered by {entities} events, not {entity}"
    if event and event not in spec.events:
        return f"the workflow subscribes to {entities} {'/'.join(spec.events)}, not {event}"
    return None


def decide(workflow: Workflow, trigger: dict[str, Any], run_id: str, ledger: GateLedger) -> Decision:
    event_id, key = trigger.get("event_id"), workflow.key
    owner = ledger.claim_run(event_id, key, run_id)  # None: a dry run's sample event
    if owner is not None:
        return Decision(False, "duplicate", f"event {event_id} already handled by run {owner}")
    if refused := subscription_refusal(workflow, trigger):
        return Decision(False, "not_subscribed", refused)
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
        window = throttle.seconds
        if throttle.mode == "throttle" and not ledger.throttle(key, scope, event_id, window):
            return Decision(False, "throttled", f"another event of {scope} ran less than {window:g} s ago")
        if throttle.mode == "debounce":
            ledger.debounce_mark(key, scope, event_id)
            return Decision(True, "debounce_wait", f"waits {window:g} s for later events of {scope}; "
                            "a later one takes over", wait_seconds=window, scope=scope)  # fmt: skip
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
