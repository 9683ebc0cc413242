"""A run of a record-event workflow for one record, started by hand: from Airflow's trigger form or
REST API (`conf: {"entity_id": 42}`, optionally `event`, and `entity` for a workflow on several), the
plugin's `POST /workflows/{key}/run` or `automation run KEY --entity-id 42`.

Invariant: such a run (one without a partition key) handles exactly one ledger event, keyed
`manual:<dag_id>:<run_id>`. The first of its tasks that asks (the conditions gate) stores it, with the
record loaded through the registry (unless the request is a full event, with `new`), and every later
task, retry or clear reads that same event. It is stored already marked emitted (source `manual`), so
it starts no other run, and the gate decides on it as on any event: once per (event, workflow), loops
and depth (the origin a `trigger_workflow` step passes), changed fields, throttle, debounce."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, ValidationError

from automation.config import max_event_bytes
from automation.definitions import RecordEventTrigger, Workflow
from automation.definitions.base import PathError, StrictModel
from automation.definitions.issues import join_path
from automation.definitions.triggers import EventName, Identifier
from automation.errors import NotFoundError, PermanentActionError
from automation.jsonable import to_jsonable
from automation.records.registry import get_registry
from automation.records.store import record_reader
from automation.runtime.event_gate import subscription_refusal
from automation.store.ledger import EventLedger, event_payload

#: The ledger's `source` of a manual run's event.
MANUAL_SOURCE = "manual"
#: What a run's conf (or the DAG's params) may say about its record.
REQUEST_FIELDS = ("entity_id", "entity", "event", "new", "old", "actor")
_INTEGER = re.compile(r"-?\d{1,18}")

RecordId = int | Annotated[str, Field(min_length=1, max_length=200)]


class RecordRunRequest(StrictModel):
    """Which record a run is for: an id (the record is loaded through the registry), or a full event
    (`new`, and `old`), as the events API takes one."""

    entity_id: RecordId = Field(description="the record's id (its collection's primary key)")
    entity: Identifier | None = Field(
        default=None, description="the record's collection, for a workflow on several (default: the first)"
    )
    event: EventName | None = Field(
        default=None, description='the event the run is for (default: "updated" when subscribed, else the first)'
    )
    new: dict[str, Any] | None = Field(
        default=None, description="a full event: the record after the change (default: loaded through the registry)"
    )
    old: dict[str, Any] | None = Field(
        default=None, description="a full event: the record before the change (default: none, as for a new record)"
    )
    actor: str | None = Field(default=None, max_length=200, description="who asked (default: the signed-in user)")


def default_event(trigger: RecordEventTrigger) -> str:
    """The event a run for a record is for when the request names none."""
    return "updated" if "updated" in trigger.events else trigger.events[0]


def record_trigger(workflow: Workflow) -> RecordEventTrigger:
    trigger = workflow.trigger
    if not isinstance(trigger, RecordEventTrigger):
        raise PathError(
            "entity_id",
            f"workflow {workflow.key!r} has a {trigger.type} trigger; only a record_event workflow runs for a record",
        )
    return trigger


def record_id(entity: str, value: int | str) -> int | str:
    """The id as the collection's primary key takes it (an integer key takes "42" too); as given for
    a collection the registry does not have (only a full event can be run for it)."""
    spec = get_registry().collections.get(entity)
    if spec is None:
        return value
    kind = spec.columns.get(spec.primary_key)
    if kind == "integer":
        text = str(value).strip()
        if isinstance(value, bool) or not _INTEGER.fullmatch(text):
            raise PathError("entity_id", f"{entity} ids ({spec.primary_key}) are integers, not {value!r}")
        return int(text)
    return value if kind == "number" and isinstance(value, int) else str(value)


def resolve(workflow: Workflow, request: RecordRunRequest) -> tuple[str, str, int | str]:
    """(entity, event, record id) of the request; `PathError` at the field the workflow does not take."""
    trigger = record_trigger(workflow)
    entity = request.entity or trigger.entities[0]
    if refused := subscription_refusal(workflow, {"entity": entity}):
        raise PathError("entity", refused)
    event = request.event or default_event(trigger)
    if refused := subscription_refusal(workflow, {"entity": entity, "event": event}):
        raise PathError("event", refused)
    return entity, event, record_id(entity, request.entity_id)


def load_record(entity: str, record: int | str) -> dict[str, Any]:
    """The record as JSON, through the registry; `NotFoundError` naming it when it does not exist."""
    with record_reader() as store:
        return dict(to_jsonable(store.get(entity, record)))


def parse_request(fields: Mapping[str, Any]) -> RecordRunRequest | None:
    """The request in a run's conf/params; None when they name no record (no `entity_id`)."""
    given = {name: fields[name] for name in REQUEST_FIELDS if fields.get(name) is not None}
    if "entity_id" not in given:
        return None
    try:
        request = RecordRunRequest.model_validate(given)
    except ValidationError as exc:
        problems = "; ".join(f"{join_path(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise PermanentActionError(f"the run's conf does not name a record correctly: {problems}") from None
    if too_large := size_refusal(request):
        raise PermanentActionError(f"the run's event: {too_large}")
    return request


def size_refusal(request: RecordRunRequest) -> str | None:
    """Why a full event is too large for the ledger (new and old together, as the events API bounds one)."""
    size = len(json.dumps([request.new, request.old], default=str))
    limit = max_event_bytes()
    return f"new and old are {size} bytes, over [automation] max_event_bytes ({limit})" if size > limit else None


def manual_key(dag_id: str, run_id: str) -> str:
    """The idempotency key of a manual run's ledger event (at most 200 characters)."""
    key = f"manual:{dag_id}:{run_id}"
    return key if len(key) <= 200 else f"manual:{dag_id}:{hashlib.sha256(run_id.encode()).hexdigest()}"


def ledger_row(
    workflow: Workflow,
    request: RecordRunRequest,
    *,
    idempotency_key: str,
    actor: str,
    origin: str | None = None,
    depth: int = 0,
) -> dict[str, Any]:
    """The ledger event of a run for a record: the record loaded now, or the request's full event.
    A `deleted` event has the record as `old` (what a real delete records)."""
    entity, event, record = resolve(workflow, request)
    new, old = request.new, request.old
    if new is None:
        loaded = load_record(entity, record)
        new, old = (None, loaded) if event == "deleted" else (loaded, old)
    return {
        "idempotency_key": idempotency_key,
        "entity": entity,
        "entity_id": str(record),
        "event": event,
        "new_data": new,
        "old_data": old,
        "actor": actor,
        "origin_workflow": origin,
        "depth": depth,
        "source": MANUAL_SOURCE,
    }


def _origin(conf: Mapping[str, Any]) -> tuple[str | None, int]:
    """The workflow (and chain depth) that started this run, as a `trigger_workflow` step says in the conf."""
    trigger = conf.get("trigger")
    origin = trigger.get("origin") if isinstance(trigger, dict) else None
    if not isinstance(origin, dict):
        return None, 0
    workflow, depth = origin.get("workflow"), origin.get("depth")
    return (str(workflow)[:63] if workflow else None), (depth if isinstance(depth, int) and depth >= 0 else 0)


def manual_run_trigger(workflow: Workflow, dag_run: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The trigger data of a run of a record-event workflow that no event started (no partition key):
    its ledger event, stored by the first task that asks (see the module's invariant)."""
    dag_id, run_id = dag_run.dag_id, dag_run.run_id
    ledger = EventLedger()
    key = manual_key(dag_id, run_id)
    row = ledger.get_by_key(key)
    if row is None:
        conf = dict(getattr(dag_run, "conf", None) or {})
        request = parse_request({**params, **conf})
        if request is None:
            entities = ", ".join(record_trigger(workflow).entities)
            raise PermanentActionError(
                f"this workflow runs for a record ({entities}): give its id as entity_id in the trigger form "
                'or the run\'s conf ({"entity_id": 42})'
            )
        origin, depth = _origin(conf)
        actor = (request.actor or getattr(dag_run, "triggering_user_name", None) or MANUAL_SOURCE)[:200]
        try:
            event = ledger_row(workflow, request, idempotency_key=key, actor=actor, origin=origin, depth=depth)
        except PathError as exc:
            raise PermanentActionError(f"the run's conf: {exc}") from None
        except NotFoundError as exc:
            raise NotFoundError(f"the run's record: {exc} (entity_id in the run's conf)") from None
        event_id, _ = ledger.append_held(event, f"manual run {run_id}: handled by that run only")
        row = ledger.get(event_id)
        if row is None:  # deleted between the two statements (the retention cleanup keeps a run's events)
            raise LookupError(f"event {event_id} of manual run {run_id} is not in the ledger")
    return {"type": workflow.trigger.type, **event_payload(row)}
