"""Import/export of workflow bundles (several workflows in one JSON/YAML document).
Export needs DAG read access, import DAG edit access (Airflow auth). Imports are parsed with the
bounded loaders (nesting, YAML aliases) and every definition is size-checked before anything is saved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from automation.airflow_adapter.access import current_user, readable_keys
from automation.api.workflows import CREATED_BY, _access
from automation.services import bundles, workflows
from automation.store.repository import SaveOutcome

router = APIRouter(prefix="/api/v1/bundles", tags=["bundles"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class BundleOut(BaseModel):
    format_version: int
    exported_at: str | None
    workflows: list[dict[str, Any]]


class ImportedOut(BaseModel):
    key: str
    version: int
    status: str
    outcome: SaveOutcome


class IssueOut(BaseModel):
    path: str
    message: str


class ImportOut(BaseModel):
    imported: list[ImportedOut]
    errors: list[IssueOut]


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": bundles.Bundle.model_json_schema()},
            "application/yaml": {"schema": bundles.Bundle.model_json_schema()},
        },
    }
}


@router.get(
    "/export",
    dependencies=[_access("GET")],
    response_model=BundleOut,
    responses={200: {"content": {"application/yaml": {"schema": {"$ref": "#/components/schemas/BundleOut"}}}}},
)
async def export_workflows(
    user: Annotated[Any, current_user()],
    keys: Annotated[list[str] | None, Query(description="keys (repeat or comma-separate); default all")] = None,
    format: Literal["json", "yaml"] = "json",
) -> Response:
    wanted = [k.strip() for item in keys or [] for k in item.split(",") if k.strip()] or None
    every = [w.key for w in await run_in_threadpool(workflows.list_workflows)]
    readable = await run_in_threadpool(readable_keys, user, every)
    if wanted is None and len(readable) < len(every):
        wanted = [k for k in every if k in readable]
    elif wanted is not None and (hidden := [k for k in wanted if k in every and k not in readable]):
        raise HTTPException(403, f"no access to workflow {hidden[0]!r}")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    bundle = await run_in_threadpool(lambda: bundles.export_bundle(wanted, exported_at=stamp))
    headers = {"Content-Disposition": f'attachment; filename="automation-bundle.{format}"'}
    media_type = "application/yaml" if format == "yaml" else "application/json"
    return Response(bundles.dump_document(bundle, format), media_type=media_type, headers=headers)


def is_yaml(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in YAML_TYPES


@router.post(
    "/import",
    dependencies=[_access("POST")],
    openapi_extra=_IMPORT_BODY,
    responses={422: {"description": "invalid bundle: nothing imported (unless partial); errors have paths"}},
)
async def import_workflows(
    request: Request,
    activate: bool = Query(default=False, description="set every imported workflow ACTIVE"),
    partial: bool = Query(default=False, description="import the valid workflows even if some are invalid"),
) -> ImportOut:
    """All or nothing by default: one invalid workflow means none is imported (422). Every change
    is a new version; an unchanged workflow keeps its version."""
    body, content_type = await request.body(), request.headers.get("content-type", "application/json")

    def run() -> bundles.BundleImport:  # in a thread: YAML parses slowly
        document = bundles.parse_document(body, as_yaml=is_yaml(content_type))
        return bundles.import_bundle(document, activate=activate, partial=partial, created_by=CREATED_BY)

    report = await run_in_threadpool(run)
    for _, sync in report.imported:
        sync.raise_failure()
    return ImportOut(
        imported=[
            ImportedOut(key=i.workflow.key, version=i.workflow.version, status=i.workflow.status, outcome=i.outcome)
            for i, _ in report.imported
        ],
        errors=[IssueOut(**i.as_dict()) for i in bundles.located(report.errors)],
    )
