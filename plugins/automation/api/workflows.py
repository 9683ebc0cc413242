"""Workflows over HTTP: list, create, read, update (a new version), delete (soft), activate,
deactivate, duplicate, versions (list, read, diff, rollback), validate, dry run. Reads (and the dry
run, which commits nothing) need DAG read access, changes DAG edit access (Airflow auth)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from automation.api.access import current_user, dag_access, readable_keys
from automation.config import dag_id_for
from automation.definitions import Status
from automation.definitions.diff import definition_diff
from automation.store.repository import Repository, StoredWorkflow
from automation.validation import validate_definition

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])
MAX_VERSION = 2_147_483_647  # versions are Postgres integers


def _access(method: Literal["GET", "PUT", "POST", "DELETE"]):
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


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: SampleEvent | None = Field(default=None, description="for record, inactivity and webhook triggers")
    params: dict[str, Any] | None = Field(default=None, description="for manual triggers: the inputs")
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION, description="default: the current version")


class StepPlanOut(BaseModel):
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
    workflow: str
    version: int
    conditions_met: bool
    steps: list[StepPlanOut]
    error: str | None = None


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


def _sync_pause(key: str, status: str) -> None:
    from automation.airflow_dags import set_dag_paused

    if status != "DRAFT":
        set_dag_paused(dag_id_for(key), paused=status != "ACTIVE")


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
    rows = await run_in_threadpool(Repository().list, status.value if status else None)
    readable = await run_in_threadpool(readable_keys, user, [r.key for r in rows])
    rows = [r for r in rows if r.key in readable]
    if trigger:
        rows = [r for r in rows if r.definition.get("trigger", {}).get("type") == trigger]
    if tag:
        rows = [r for r in rows if tag in (r.definition.get("settings", {}).get("tags") or [])]
    if q:
        rows = [r for r in rows if q.lower() in r.key.lower() or q.lower() in r.name.lower()]
    return WorkflowList(total=len(rows), workflows=[_out(r) for r in rows[offset : offset + limit]])


@router.post("", status_code=201, dependencies=[_access("POST")])
async def create_workflow(definition: dict[str, Any]) -> WorkflowOut:
    workflow = validate_definition(definition)
    return _out(await run_in_threadpool(Repository().create, workflow, created_by="api"))


@router.post("/validate", dependencies=[_access("GET")])
async def validate_workflow(definition: dict[str, Any]) -> Validated:
    workflow = validate_definition(definition)
    return Validated(valid=True, key=workflow.key)


@router.get("/{key}", dependencies=[_access("GET")])
async def read_workflow(key: str) -> WorkflowOut:
    return _out(await run_in_threadpool(Repository().get, key))


@router.put("/{key}", dependencies=[_access("PUT")])
async def update_workflow(key: str, definition: dict[str, Any]) -> WorkflowOut:
    workflow = validate_definition({**definition, "key": key})
    stored = await run_in_threadpool(Repository().update, workflow, created_by="api")
    await run_in_threadpool(_sync_pause, key, stored.status)
    return _out(stored)


@router.delete("/{key}", status_code=204, dependencies=[_access("DELETE")])
async def delete_workflow(key: str) -> None:
    await run_in_threadpool(Repository().soft_delete, key)


@router.post("/{key}/activate", dependencies=[_access("PUT")])
async def activate_workflow(key: str) -> WorkflowOut:
    stored = await run_in_threadpool(Repository().set_status, key, Status.ACTIVE)
    await run_in_threadpool(_sync_pause, key, stored.status)
    return _out(stored)


@router.post("/{key}/deactivate", dependencies=[_access("PUT")])
async def deactivate_workflow(key: str) -> WorkflowOut:
    stored = await run_in_threadpool(Repository().set_status, key, Status.INACTIVE)
    await run_in_threadpool(_sync_pause, key, stored.status)
    return _out(stored)


@router.post("/{key}/duplicate", status_code=201, dependencies=[_access("POST")])
async def duplicate_workflow(key: str, body: DuplicateIn) -> WorkflowOut:
    def duplicate() -> StoredWorkflow:
        source = Repository().get(key)
        name = body.name or f"{source.name} (copy)"[:200]
        copy = validate_definition({**source.definition, "key": body.key, "name": name, "status": body.status})
        return Repository().create(copy, created_by="api")

    return _out(await run_in_threadpool(duplicate))


@router.get("/{key}/versions", dependencies=[_access("GET")])
async def list_versions(key: str) -> VersionList:
    def versions() -> VersionList:
        repo = Repository()
        items = [VersionOut(**vars(v)) for v in repo.list_versions(key)]
        return VersionList(key=key, current_version=repo.get(key).version, versions=items)

    return await run_in_threadpool(versions)


@router.get("/{key}/versions/diff", dependencies=[_access("GET")])
async def diff_versions(
    key: str,
    from_version: int = Query(alias="from", ge=1, le=MAX_VERSION, description="the older version"),
    to_version: int | None = Query(None, alias="to", ge=1, le=MAX_VERSION, description="default: the current version"),
) -> VersionDiff:
    def diff() -> VersionDiff:
        repo = Repository()
        to = to_version if to_version is not None else repo.get(key).version
        old, new = repo.get_version(key, from_version), repo.get_version(key, to)
        text = definition_diff(old, new, old_label=f"{key} v{from_version}", new_label=f"{key} v{to}")
        return VersionDiff(key=key, from_version=from_version, to_version=to, diff=text)

    return await run_in_threadpool(diff)


@router.get("/{key}/versions/{version}", dependencies=[_access("GET")])
async def read_version(key: str, version: int = Path(ge=1, le=MAX_VERSION)) -> VersionRead:
    definition = await run_in_threadpool(Repository().get_version, key, version)
    return VersionRead(key=key, version=version, definition=definition)


@router.post("/{key}/rollback", dependencies=[_access("PUT")])
async def rollback_workflow(key: str, body: RollbackIn) -> WorkflowOut:
    """A new version with the content of `version` (the live status is kept). Rolling back to
    content equal to the current version changes nothing."""

    def rollback() -> StoredWorkflow:
        repo = Repository()
        current = repo.get(key)
        old = repo.get_version(key, body.version)
        workflow = validate_definition({**old, "key": key, "status": current.status})
        return repo.update(workflow, created_by="api", comment=f"rollback to v{body.version}")

    stored = await run_in_threadpool(rollback)
    await run_in_threadpool(_sync_pause, key, stored.status)
    return _out(stored)


@router.post("/{key}/dry-run", dependencies=[_access("GET")])
async def dry_run_workflow(key: str, body: DryRunIn) -> DryRunOut:
    """What the workflow would do for a sample event: conditions evaluated, configs rendered, record
    changes made and rolled back; nothing is sent and nothing is committed. It runs in a worker process
    with CPU, memory and time limits (`[automation] template_*`): a template that hits one is a 422."""
    from automation.runtime.dry_run import isolated_dry_run

    def run() -> DryRunOut:
        repo = Repository()
        stored = repo.get(key)
        version = body.version or stored.version
        definition = stored.with_status() if version == stored.version else repo.get_version(key, version)
        workflow = validate_definition({**definition, "key": key}, source=f"{key} v{version}")
        event = body.event.model_dump(exclude_none=True) if body.event else {}
        if body.params is not None:
            event["params"] = body.params
        return DryRunOut.model_validate(isolated_dry_run(workflow, version, event))

    return await run_in_threadpool(run)
