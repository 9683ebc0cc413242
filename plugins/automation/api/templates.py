"""The workflow templates catalogue over HTTP: list, read, create a workflow from a template.
Reads need DAG read access, creating a workflow DAG edit access (Airflow auth)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from automation.api.workflows import CREATED_BY, WorkflowOut, _access, _out
from automation.definitions import Status
from automation.services import templates
from automation.services.templates import WorkflowTemplate

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


class TemplateList(BaseModel):
    total: int
    templates: list[WorkflowTemplate]


class FromTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(description="the new workflow's key (lowercase letters, digits, - and _)")
    name: str | None = Field(default=None, description="default: the template's workflow name")
    status: Status = Status.ACTIVE
    parameters: dict[str, Any] = Field(default_factory=dict, description="values by parameter name")


@router.get("", dependencies=[_access("GET")])
async def list_workflow_templates(category: str | None = None) -> TemplateList:
    found = await run_in_threadpool(templates.list_templates, category)
    return TemplateList(total=len(found), templates=found)


@router.get("/{template_id}", dependencies=[_access("GET")])
async def read_workflow_template(template_id: str) -> WorkflowTemplate:
    return await run_in_threadpool(templates.get_template, template_id)


@router.post("/{template_id}/workflows", status_code=201, dependencies=[_access("POST")])
async def create_workflow_from_template(template_id: str, body: FromTemplate) -> WorkflowOut:
    stored = await run_in_threadpool(
        lambda: templates.create_workflow(
            template_id, body.parameters, key=body.key, name=body.name, status=body.status.value, created_by=CREATED_BY
        )
    )
    return _out(stored)
