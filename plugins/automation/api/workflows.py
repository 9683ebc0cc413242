"""Workflows over HTTP: list, create, read, update (a new version, with an optional comment), delete
(soft), activate, deactivate, duplicate, versions (list, read, diff, rollback), validate, dry run (of a
stored workflow or a draft), run for a record.
Reads (and the dry run, which commits nothing) need DAG read access, changes DAG edit access, a run
the right to create the DAG's runs (Airflow auth)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from automation.airflow_adapter.access import current_user, dag_access, readable_keys, run_entity
from automation.config import dag_id_for
from automation.definitions import Status
from automation.insights.executions import airflow_url
from automation.runtime.record_run import RecordRunRequest
from automation.services import dry_run, runs, workflows
from automation.store.repository import StoredWorkflow

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])
MAX_VERSION = 2_147_483_647  # versions are Postgres integers
CREATED_BY = "api"


def _access(method: Literal["GET", "PUT", "POST", "DELETE"]) -> Any:
    return dag_access(method)


class WorkflowOut(BaseModel):
    key: str
    name: str
    status: str
    version: int
    dag_id: str
    definition: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


class WorkflowList(BaseModel):
    total: int
    workflows: list[WorkflowOut]


class Validated(BaseModel):
    valid: bool
    key: str


class VersionOut(BaseModel):
    version: int
    created_at: datetime | None
    created_by: str | None
    comment: str | None = None


class VersionList(BaseModel):
    key: str
    current_version: int
    versions: list[VersionOut]


class VersionRead(BaseModel):
    key: str
    version: int
    definition: dict[str, Any]


class VersionDiff(BaseModel):
    key: str
    from_version: int
    to_version: int
    diff: str = Field(description="unified diff of the two definitions as YAML; empty when equal")


class DuplicateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(description="the copy's key (lowercase letters, digits, - and _)")
    name: str | None = Field(default=None, description='default: "<name> (copy)"')
    status: Status = Field(default=Status.DRAFT, description="DRAFT by default, so the copy does not fire too")


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=MAX_VERSION, description="the version whose content becomes a new version")


class SampleEvent(BaseModel):
    """A record event as the trigger would see it; extra keys (entity, event, actor...) are kept."""

    model_config = ConfigDict(extra="allow")
    id: str | int | None = None
    new: dict[str, Any] | None = None
    old: dict[str, Any] | None = None


class DryRunInputs(BaseModel):
    """What a dry run is given (of a stored workflow, or of a draft)."""

    model_config = ConfigDict(extra="forbid")
    event: SampleEvent | None = Field(default=None, description="for record, inactivity and webhook triggers")
    params: dict[str, Any] | None = Field(default=None, description="for manual triggers: the inputs")
    at: datetime | None = Field(
        default=None,
        description="the logical date (ISO 8601, UTC when no offset) for schedule workflows; "
        "default: the latest scheduled time",
    )
    mocks: dict[str, Any] | None = Field(
        default=None, description="step id -> the output that step gives (so later steps that read it render)"
    )

    def event_dict(self) -> dict[str, Any]:
        """The sample event, with the manual inputs as its `params`."""
        event = self.event.model_dump(exclude_none=True) if self.event else {}
        if self.params is not None:
            event["params"] = self.params
        return event


class DryRunIn(DryRunInputs):
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION, description="default: the current version")


class DraftDryRunIn(DryRunInputs):
    definition: dict[str, Any] = Field(description="the workflow definition, as `POST /workflows` takes it")


class StepPlanOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    step: str
    action: str
    status: str = Field(description="would_run | skipped | planned | error | not_reached")
    detail: str | None = None
    config: dict[str, Any] | None = None
    output: Any = None
    notices: dict[str, Any] | None = Field(
        default=None,
        description="the step's notices (on_success, on_retry, on_failure) as the first attempt renders them",
    )


class DryRunOut(BaseModel):
    """The runtime's report as it is (fields it adds pass through), the verdict first."""

    model_config = ConfigDict(extra="allow")
    would_run: bool | None = Field(default=None, description="whether a real run would start for this input")
    reason: str | None = Field(default=None, description="why not, when it would not")
    workflow: str
    version: int
    conditions_met: bool
    steps: list[StepPlanOut]
    error: str | None = None
    lookups: list[dict[str, Any]] = Field(
        default_factory=list,
        description="what the conditions looked up, in order: collection, id, column, value, found",
    )


class RunIn(RecordRunRequest):
    """The record to run for: `entity_id` (loaded through the registry), or a full event (`new`, `old`)."""

    run_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="the Airflow run id (default: Airflow's manual__<time>); a run id already used is a 409",
    )


class RunOut(BaseModel):
    key: str
    dag_id: str
    run_id: str
    run_type: Literal["manual"] = "manual"
    entity: str
    entity_id: int | str
    event: str
    conf: dict[str, Any] = Field(description="the run's conf: what Airflow's REST API would be given for this run")
    airflow_url: str
    execution_url: str = Field(description="this run in the executions API")


def _out(stored: StoredWorkflow) -> WorkflowOut:
    return WorkflowOut(
        key=stored.key,
        name=stored.name,
        status=stored.status,
        version=stored.version,
        dag_id=dag_id_for(stored.key),
        definition=stored.with_status(),
        created_at=stored.created_at,
        updated_at=stored.updated_at,
    )


def _synced(saved: workflows.Saved) -> WorkflowOut:
    """The saved workflow, once its DAG's pause state followed (a failed sync is answered as an error)."""
    saved.sync.raise_failure()
    return _out(saved.workflow)


@router.get("", dependencies=[_access("GET")])
async def list_workflows(
    user: Annotated[Any, current_user()],
    status: Status | None = None,
    trigger: str | None = Query(default=None, description="trigger type"),
    tag: str | None = None,
    q: str | None = Query(default=None, description="text in key or name"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> WorkflowList:
    rows = await run_in_threadpool(
        lambda: workflows.list_workflows(status=status.value if status else None, trigger=trigger, tag=tag, text=q)
    )
    readable = await run_in_threadpool(readable_keys, user, [r.key for r in rows])
    rows = [r for r in rows if r.key in readable]
    return WorkflowList(total=len(rows), workflows=[_out(r) for r in rows[offset : offset + limit]])


@router.post("", status_code=201, dependencies=[_access("POST")])
async def create_workflow(definition: dict[str, Any]) -> WorkflowOut:
    return _out(await run_in_threadpool(lambda: workflows.create(definition, created_by=CREATED_BY)))


@router.post("/validate", dependencies=[_access("GET")])
async def validate_workflow(definition: dict[str, Any]) -> Validated:
    workflow = workflows.validate(definition)
    return Validated(valid=True, key=workflow.key)


@router.post("/dry-run", dependencies=[_access("GET")])
async def dry_run_draft(body: DraftDryRunIn) -> DryRunOut:
    """The dry run of a definition not stored (the editor's draft): validated as `POST /workflows`
    would (a 422 with each problem's path), then run as `POST /workflows/{key}/dry-run` runs a stored
    one (version 1); nothing is stored."""
    report = await run_in_threadpool(
        lambda: dry_run.dry_run_definition(body.definition, body.event_dict(), at=body.at, mocks=body.mocks)
    )
    return DryRunOut.model_validate(report)


@router.get("/{key}", dependencies=[_access("GET")])
async def read_workflow(key: str) -> WorkflowOut:
    return _out(await run_in_threadpool(workflows.get, key))


@router.put("/{key}", dependencies=[_access("PUT")])
async def update_workflow(
    key: str,
    definition: dict[str, Any],
    comment: str | None = Query(
        default=None,
        min_length=1,
        max_length=workflows.VERSION_COMMENT_MAX,
        description="the new version's comment (the versions list shows it); the body stays the definition",
    ),
) -> WorkflowOut:
    """A new version of the workflow (none when nothing changed), with `comment`."""
    note = comment.strip() if comment else None
    return _synced(
        await run_in_threadpool(lambda: workflows.update(key, definition, created_by=CREATED_BY, comment=note or None))
    )


@router.delete("/{key}", status_code=204, dependencies=[_access("DELETE")])
async def delete_workflow(key: str) -> None:
    await run_in_threadpool(workflows.delete, key)


@router.post("/{key}/activate", dependencies=[_access("PUT")])
async def activate_workflow(key: str) -> WorkflowOut:
    return _synced(await run_in_threadpool(workflows.set_status, key, Status.ACTIVE))


@router.post("/{key}/deactivate", dependencies=[_access("PUT")])
async def deactivate_workflow(key: str) -> WorkflowOut:
    return _synced(await run_in_threadpool(workflows.set_status, key, Status.INACTIVE))


@router.post("/{key}/duplicate", status_code=201, dependencies=[_access("POST")])
async def duplicate_workflow(key: str, body: DuplicateIn) -> WorkflowOut:
    stored = await run_in_threadpool(
        lambda: workflows.duplicate(key, body.key, name=body.name, status=body.status, created_by=CREATED_BY)
    )
    return _out(stored)


@router.get("/{key}/versions", dependencies=[_access("GET")])
async def list_versions(key: str) -> VersionList:
    current, items = await run_in_threadpool(workflows.versions, key)
    return VersionList(key=key, current_version=current, versions=[VersionOut(**vars(v)) for v in items])


@router.get("/{key}/versions/diff", dependencies=[_access("GET")])
async def diff_versions(
    key: str,
    from_version: int = Query(alias="from", ge=1, le=MAX_VERSION, description="the older version"),
    to_version: int | None = Query(None, alias="to", ge=1, le=MAX_VERSION, description="default: the current version"),
) -> VersionDiff:
    to, text = await run_in_threadpool(workflows.diff, key, from_version, to_version)
    return VersionDiff(key=key, from_version=from_version, to_version=to, diff=text)


@router.get("/{key}/versions/{version}", dependencies=[_access("GET")])
async def read_version(key: str, version: int = Path(ge=1, le=MAX_VERSION)) -> VersionRead:
    definition = await run_in_threadpool(workflows.version_definition, key, version)
    return VersionRead(key=key, version=version, definition=definition)


@router.post("/{key}/rollback", dependencies=[_access("PUT")])
async def rollback_workflow(key: str, body: RollbackIn) -> WorkflowOut:
    """A new version with the content of `version` (the live status is kept). Rolling back to
    content equal to the current version changes nothing."""
    return _synced(await run_in_threadpool(lambda: workflows.rollback(key, body.version, created_by=CREATED_BY)))


@router.post("/{key}/dry-run", dependencies=[_access("GET")])
async def dry_run_workflow(key: str, body: DryRunIn) -> DryRunOut:
    """What the workflow would do for a sample event: conditions evaluated, configs rendered, record
    changes made and rolled back; nothing is sent and nothing is committed. It runs in a worker process
    with CPU, memory and time limits (`[automation] template_*`): a template that hits one is a 422.
    `at` is the logical date (schedule workflows; default the latest scheduled time) and `mocks`
    gives steps an output (by step id: an unknown id is a 422 at `mocks.<id>`)."""
    report = await run_in_threadpool(
        lambda: dry_run.dry_run(key, body.event_dict(), version=body.version, at=body.at, mocks=body.mocks)
    )
    return DryRunOut.model_validate(report)


@router.post("/{key}/run", status_code=201, dependencies=[dag_access("POST", run_entity())])
async def run_workflow(key: str, body: RunIn, user: Annotated[Any, current_user()]) -> RunOut:
    """Start a run of a record-event workflow for one record, as Airflow's trigger with
    `conf: {"entity_id": ...}` does: the record must exist (404 at `entity_id`; a full event, with
    `new`, is taken as given), the workflow must be ACTIVE (409). The run is a manual run of the DAG;
    its conditions task stores its ledger event (not emitted to other workflows) and applies the
    event checks (exactly once, loops, fields, throttle, debounce) before the conditions."""
    request = RecordRunRequest.model_validate(body.model_dump(exclude={"run_id"}, exclude_none=True))
    name = getattr(user, "get_name", lambda: None)()
    started = await run_in_threadpool(lambda: runs.run_for_record(key, request, run_id=body.run_id, user=name))
    return RunOut(
        key=key,
        dag_id=started.dag_id,
        run_id=started.run_id,
        entity=started.entity,
        entity_id=started.entity_id,
        event=started.event,
        conf=started.conf,
        airflow_url=airflow_url(started.dag_id, started.run_id),
        execution_url=f"/automation{router.prefix}/{key}/executions/{quote(started.run_id, safe='')}",
    )
