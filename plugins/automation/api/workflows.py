"""Workflows over HTTP: list, create, read, update (a new version), delete (soft), activate,
deactivate, versions, validate. Reads need DAG read access, changes DAG edit access (Airflow auth)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from automation.config import dag_id_for
from automation.definitions import Status
from automation.store.repository import Repository, StoredWorkflow
from automation.validation import validate_definition

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])


def _access(method: Literal["GET", "PUT", "POST", "DELETE"]):
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return Depends(requires_access_dag(method=method))


def _out(stored: StoredWorkflow) -> dict[str, Any]:
    return {
        "key": stored.key,
        "name": stored.name,
        "status": stored.status,
        "version": stored.version,
        "dag_id": dag_id_for(stored.key),
        "definition": stored.with_status(),
        "created_at": stored.created_at.isoformat() if stored.created_at else None,
        "updated_at": stored.updated_at.isoformat() if stored.updated_at else None,
    }


def _sync_pause(key: str, status: str) -> None:
    from automation.airflow_dags import set_dag_paused

    if status != "DRAFT":
        set_dag_paused(dag_id_for(key), paused=status != "ACTIVE")


@router.get("", dependencies=[_access("GET")])
async def list_workflows(
    status: Status | None = None,
    trigger: str | None = Query(default=None, description="trigger type"),
    tag: str | None = None,
    q: str | None = Query(default=None, description="text in key or name"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> dict[str, Any]:
    rows = await run_in_threadpool(Repository().list, status.value if status else None)
    if trigger:
        rows = [r for r in rows if r.definition.get("trigger", {}).get("type") == trigger]
    if tag:
        rows = [r for r in rows if tag in (r.definition.get("settings", {}).get("tags") or [])]
    if q:
        rows = [r for r in rows if q.lower() in r.key.lower() or q.lower() in r.name.lower()]
    return {"total": len(rows), "workflows": [_out(r) for r in rows[offset : offset + limit]]}


@router.post("", status_code=201, dependencies=[_access("POST")])
async def create_workflow(definition: dict[str, Any]) -> dict[str, Any]:
    workflow = validate_definition(definition)
    return _out(await run_in_threadpool(Repository().create, workflow, created_by="api"))


@router.post("/validate", dependencies=[_access("GET")])
async def validate_workflow(definition: dict[str, Any]) -> dict[str, Any]:
    workflow = validate_definition(definition)
    return {"valid": True, "key": workflow.key}


@router.get("/{key}", dependencies=[_access("GET")])
async def read_workflow(key: str) -> dict[str, Any]:
    return _out(await run_in_threadpool(Repository().get, key))


@router.put("/{key}", dependencies=[_access("PUT")])
async def update_workflow(key: str, definition: dict[str, Any]) -> dict[str, Any]:
    workflow = validate_definition({**definition, "key": key})
    stored = await run_in_threadpool(Repository().update, workflow, created_by="api")
    await run_in_threadpool(_sync_pause, key, stored.status)
    return _out(stored)


@router.delete("/{key}", status_code=204, dependencies=[_access("DELETE")])
async def delete_workflow(key: str) -> None:
    await run_in_threadpool(Repository().soft_delete, key)


@router.post("/{key}/activate", dependencies=[_access("PUT")])
async def activate_workflow(key: str) -> dict[str, Any]:
    stored = await run_in_threadpool(Repository().set_status, key, Status.ACTIVE)
    await run_in_threadpool(_sync_pause, key, stored.status)
    return _out(stored)


@router.post("/{key}/deactivate", dependencies=[_access("PUT")])
async def deactivate_workflow(key: str) -> dict[str, Any]:
    stored = await run_in_threadpool(Repository().set_status, key, Status.INACTIVE)
    await run_in_threadpool(_sync_pause, key, stored.status)
    return _out(stored)


@router.get("/{key}/versions/{version}", dependencies=[_access("GET")])
async def read_version(key: str, version: int) -> dict[str, Any]:
    return {
        "key": key,
        "version": version,
        "definition": await run_in_threadpool(Repository().get_version, key, version),
    }
