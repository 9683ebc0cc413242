"""Workflows from the templates catalogue: list, read, check the parameters, create.

Invariant: a workflow made from a template is rendered and fully validated by the catalogue
(`DefinitionError` at the parameter's or the definition's path) before anything is stored; the
new workflow's DAG does not exist yet, so there is no pause state to sync.
"""

from __future__ import annotations

from typing import Any

from automation.catalogue.templates import WorkflowTemplate, get_template, list_templates, render_template
from automation.store.repository import Repository, StoredWorkflow

#: the key a template is rendered under to check its parameters while the typed key is invalid
STAND_IN_KEY = "form-check"

__all__ = ["STAND_IN_KEY", "WorkflowTemplate", "check_parameters", "create_workflow", "get_template", "list_templates"]


def check_parameters(template_id: str, values: dict[str, Any]) -> None:
    """`DefinitionError` for every parameter problem (what `create_workflow` would refuse), without a key."""
    render_template(template_id, values, key=STAND_IN_KEY)


def create_workflow(
    template_id: str,
    values: dict[str, Any],
    *,
    key: str,
    name: str | None = None,
    status: str = "ACTIVE",
    created_by: str | None = None,
) -> StoredWorkflow:
    """The template's workflow with `values` for its parameters, stored as version 1
    (`ConflictError` when the key is taken)."""
    workflow = render_template(template_id, values, key=key, name=name, status=status)
    return Repository().create(workflow, created_by=created_by)
