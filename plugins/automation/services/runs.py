"""Runs of a workflow that a person starts for one record: the API's `POST /workflows/{key}/run` and
`automation run KEY --entity-id 42` (Airflow's own trigger form and REST API reach the same runtime
through the DAG's params, without this module).

Invariant: a run is started only for an ACTIVE record-event workflow, with a request its trigger takes,
once the record exists (loaded through the registry; a full event, with `new`, is taken as given);
every refusal is an `AutomationError` at the request's field path (a missing record: 404 at
`entity_id`). Then Airflow starts a manual run of the DAG whose conf names the record, and the run's
first task stores its ledger event (runtime.record_run), so the gate's checks apply as to any event.
A manual-trigger workflow is run with its inputs (`run_manual`, the pages' Run now), refused the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from automation.config import dag_id_for
from automation.definitions import Status
from automation.definitions.base import PathError
from automation.definitions.issues import join_path
from automation.errors import ConflictError, Issue, NotFoundError, RegistryError
from automation.runtime.record_run import RecordRunRequest, load_record, resolve, size_refusal
from automation.services.errors import RequestError
from automation.services.workflows import definition_at


class RecordNotFound(NotFoundError):
    """The record a run is asked for does not exist (`path`: the request's field)."""

    def __init__(self, message: str, path: str = "entity_id") -> None:
        self.path = path
        super().__init__(message)


@dataclass(frozen=True)
class StartedRun:
    key: str
    dag_id: str
    run_id: str
    entity: str
    entity_id: int | str
    event: str
    #: the conf the run was started with (what Airflow's REST API would be given for the same run)
    conf: dict[str, Any]


def _refuse(path: str, message: str) -> RequestError:
    return RequestError([Issue(path, message)])


def record_request(fields: Mapping[str, Any]) -> RecordRunRequest:
    """The request in `fields` (the CLI's options), or a `RequestError` at each wrong field's path."""
    try:
        return RecordRunRequest.model_validate(dict(fields))
    except ValidationError as exc:
        issues = [Issue(join_path(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        raise RequestError(issues) from None


def run_for_record(
    key: str, request: RecordRunRequest, *, run_id: str | None = None, user: str | None = None, via: str = "rest_api"
) -> StartedRun:
    """Start a run of workflow `key` for the request's record (see the module's invariant). `via`: how
    Airflow records the trigger (`rest_api`, `cli`)."""
    workflow, _ = definition_at(key)
    if workflow.status != Status.ACTIVE:
        raise ConflictError(f"workflow {key!r} is {workflow.status.value}: only an ACTIVE workflow runs; activate it")
    try:
        entity, event, record = resolve(workflow, request)
    except PathError as exc:
        raise _refuse(exc.path, exc.message) from None
    if too_large := size_refusal(request):
        raise _refuse("new", too_large)
    if request.new is None:
        try:
            load_record(entity, record)
        except NotFoundError as exc:
            raise RecordNotFound(str(exc)) from None
        except RegistryError as exc:
            raise _refuse("entity", f"{exc}; a full event (with new) runs without loading the record") from None
    conf = {**request.model_dump(exclude_none=True), "entity_id": record, "event": event}
    if len(workflow.trigger.entities) > 1:  # type: ignore[union-attr]  # resolve() checked: a record_event trigger
        conf["entity"] = entity
    from automation.airflow_adapter.runs import trigger_manual_run

    dag_id = dag_id_for(key)
    try:
        started = trigger_manual_run(dag_id, conf, run_id=run_id, user=user, via=via)
    except ValueError as exc:  # Airflow refused the run id (or, past the checks above, the conf)
        message = (str(exc).splitlines() or ["refused"])[0]
        raise _refuse("run_id" if run_id is not None and "run_id" in message else "", message) from None
    return StartedRun(key, dag_id, started, entity, record, event, conf)


def run_manual(key: str, inputs: Mapping[str, Any], *, user: str | None = None, via: str = "rest_api") -> str:
    """Start a run of the manual-trigger workflow `key` with these inputs (its `params`), as Airflow's
    trigger form does: the workflow must be ACTIVE (409); an input it does not declare, or a required one
    missing, is a `RequestError` at `inputs.<name>`; Airflow validates the values against the DAG's Params
    (its refusal is a `RequestError` at `inputs`). The id of the run started."""
    workflow, _ = definition_at(key)
    if workflow.status != Status.ACTIVE:
        raise ConflictError(f"workflow {key!r} is {workflow.status.value}: only an ACTIVE workflow runs; activate it")
    declared = getattr(workflow.trigger, "inputs", None)
    if workflow.trigger.type != "manual" or declared is None:
        raise ConflictError(f"workflow {key!r} has a {workflow.trigger.type} trigger: only a manual one takes inputs")
    issues = [Issue(f"inputs.{name}", "not an input of this workflow") for name in inputs if name not in declared]
    issues += [
        Issue(f"inputs.{name}", "required")
        for name, spec in declared.items()
        if spec.required and spec.default is None and inputs.get(name) in (None, "")
    ]
    if issues:
        raise RequestError(issues)
    from automation.airflow_adapter.runs import trigger_manual_run

    try:
        return trigger_manual_run(dag_id_for(key), dict(inputs), user=user, via=via)
    except ValueError as exc:  # Airflow's check of the values against the DAG's Params
        raise _refuse("inputs", (str(exc).splitlines() or ["refused"])[0]) from None
