"""Import/export of workflow bundles (several workflows in one JSON/YAML document).
Export needs DAG read access, import DAG edit access (Airflow auth). Imports are parsed with the
bounded loaders (nesting, YAML aliases) and every definition is size-checked before anything is saved."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from automation.api.access import current_user, readable_keys
from automation.api.workflows import _access, _sync_pause
from automation.catalogue.bundles import Bundle, export_bundle, import_definitions, parse_bundle
from automation.definitions.files import load_json, load_yaml
from automation.definitions.issues import join_path
from automation.errors import DefinitionError, Issue
from automation.store.repository import Repository, SaveOutcome

router = APIRouter(prefix="/api/v1/bundles", tags=["bundles"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class _PlainDumper(yaml.SafeDumper):
    """Exports write every value out (no &anchors/*aliases), so they import under the alias bound."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


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
            "application/json": {"schema": Bundle.model_json_schema()},
            "application/yaml": {"schema": Bundle.model_json_schema()},
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
    every = [w.key for w in await run_in_threadpool(Repository().list)]
    readable = await run_in_threadpool(readable_keys, user, every)
    if wanted is None and len(readable) < len(every):
        wanted = [k for k in every if k in readable]
    elif wanted is not None and (hidden := [k for k in wanted if k in every and k not in readable]):
        raise HTTPException(403, f"no access to workflow {hidden[0]!r}")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    bundle = await run_in_threadpool(lambda: export_bundle(wanted, exported_at=stamp))
    filename = f"automation-bundle.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "yaml":
        text = yaml.dump(bundle, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml", headers=headers)
    return Response(json.dumps(bundle, indent=2), media_type="application/json", headers=headers)


def is_yaml(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in YAML_TYPES


def _parse(body: bytes, content_type: str) -> Any:
    """The bundle document (its size is bounded by the body limit, its nesting and YAML aliases by
    the loaders)."""
    yaml_body = is_yaml(content_type)
    try:
        text = body.decode("utf-8")
        return load_yaml(text) if yaml_body else load_json(text)
    except UnicodeDecodeError:
        raise DefinitionError([Issue("", "expected UTF-8 text")]) from None
    except (yaml.YAMLError, ValueError) as exc:
        kind = "YAML" if yaml_body else "JSON (send YAML with Content-Type: application/yaml)"
        raise DefinitionError([Issue("", f"not valid {kind}: {exc}")]) from None


def _prefixed(errors: list[DefinitionError]) -> list[Issue]:
    """Each error's path inside the bundle: `workflows[2].steps[0].config.to`."""
    issues = []
    for exc in errors:
        for issue in exc.issues or [Issue("", str(exc))]:
            path = f"{exc.source}{'.' if issue.path and not issue.path.startswith('[') else ''}{issue.path}"
            issues.append(Issue(path, issue.message))
    return issues


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
    definitions = await run_in_threadpool(lambda: parse_bundle(_parse(body, content_type)))  # YAML parses slowly
    documents = [(join_path(["workflows", i]), d) for i, d in enumerate(definitions)]
    report = await run_in_threadpool(
        lambda: import_definitions(documents, activate=activate, partial=partial, created_by="api")
    )
    if report.errors and not partial:
        raise DefinitionError(_prefixed(report.errors))
    for item in report.imported:
        await run_in_threadpool(_sync_pause, item.workflow.key, item.workflow.status)
    return ImportOut(
        imported=[
            ImportedOut(key=i.workflow.key, version=i.workflow.version, status=i.workflow.status, outcome=i.outcome)
            for i in report.imported
        ],
        errors=[IssueOut(**i.as_dict()) for i in _prefixed(report.errors)],
    )
