"""Bundles: several workflows in one document, exported and imported as a whole.

A bundle is `{format_version: 1, workflows: [definition, ...]}` (JSON or YAML); a bare list of
definitions (what `automation export` prints) is accepted too. The CLI's `automation import` and
the API's `POST /api/v1/bundles/import` both go through `services.bundles`, which calls
`import_definitions`: every definition is validated first, and unless `partial` is set one invalid
definition means nothing is imported.
Every change is a new version; an unchanged definition adds none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from automation.definitions import Status, Workflow
from automation.definitions.issues import issues_from_validation_error
from automation.errors import DefinitionError, Issue
from automation.store.repository import Repository, SaveOutcome, StoredWorkflow, stored_definition
from automation.validation import validate_definition

BUNDLE_FORMAT: Literal[1] = 1
NOT_A_WORKFLOW = "expected a workflow object (key, name, trigger, steps)"


class Bundle(BaseModel):
    """The bundle document; each workflow is validated on its own, with its index in the path."""

    model_config = ConfigDict(extra="forbid")
    format_version: Literal[1] = BUNDLE_FORMAT
    exported_at: str | None = None
    workflows: list[dict[str, Any]] = Field(min_length=1, description="workflow definitions")


def parse_bundle(data: Any) -> list[dict[str, Any]]:
    """The workflow definitions of a parsed bundle document, or `DefinitionError` with paths."""
    if isinstance(data, list):
        data = {"workflows": data}
    if not isinstance(data, dict):
        raise DefinitionError([Issue("", "expected a bundle: an object with a `workflows` list")])
    try:
        return Bundle.model_validate(data).workflows
    except ValidationError as exc:
        raise DefinitionError([_plain(issue) for issue in issues_from_validation_error(exc)]) from None


def _plain(issue: Issue) -> Issue:
    if issue.path.startswith("workflows[") and issue.message.startswith("Input should be a valid dict"):
        return Issue(issue.path, NOT_A_WORKFLOW)
    return issue


@dataclass(frozen=True)
class Imported:
    workflow: StoredWorkflow
    outcome: SaveOutcome


@dataclass
class ImportReport:
    imported: list[Imported] = field(default_factory=list)
    errors: list[DefinitionError] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """Nothing was imported because some definitions were invalid (all or nothing)."""
        return bool(self.errors) and not self.imported


def _key_issues(sourced: list[tuple[str, Workflow]], repo: Repository) -> list[DefinitionError]:
    """A key given twice in one import, or held by a deleted workflow, is an error of that item."""
    errors: list[DefinitionError] = []
    first: dict[str, str] = {}
    deleted = repo.deleted_keys([w.key for _, w in sourced]) if sourced else set()
    for source, workflow in sourced:
        if workflow.key in first:
            message = f"duplicate key {workflow.key!r}: {first[workflow.key]} has it too"
            errors.append(DefinitionError([Issue("key", message)], source))
        elif workflow.key in deleted:
            message = f"{workflow.key!r} belongs to a deleted workflow (its history is kept); choose another key"
            errors.append(DefinitionError([Issue("key", message)], source))
        first.setdefault(workflow.key, source)
    return errors


def import_definitions(
    documents: Sequence[tuple[str, Any]],
    *,
    activate: bool = False,
    partial: bool = False,
    created_by: str | None = None,
) -> ImportReport:
    """Validate `(source, definition)` pairs, then save them in one transaction. With `partial`
    the valid ones are saved despite errors; without it, any error means nothing is saved."""
    repo = Repository()
    report = ImportReport()
    sourced: list[tuple[str, Workflow]] = []
    for source, data in documents:
        try:
            if not isinstance(data, dict):
                raise DefinitionError([Issue("", NOT_A_WORKFLOW)], source)
            workflow = validate_definition(data, source=source)
            stored_definition(workflow, source)
        except DefinitionError as exc:
            report.errors.append(exc)
            continue
        sourced.append((source, workflow.model_copy(update={"status": Status.ACTIVE}) if activate else workflow))
    key_errors = _key_issues(sourced, repo)
    report.errors += key_errors
    if report.errors and not partial:
        return report
    bad = {exc.source for exc in key_errors}
    valid = [w for source, w in sourced if source not in bad]
    if valid:
        saved = repo.save_all(valid, created_by=created_by)
        report.imported = [Imported(stored, outcome) for stored, outcome in saved]
    return report


def export_definitions(keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The current definitions (with their live status), re-importable; every key must exist."""
    repo = Repository()
    stored = [repo.get(key) for key in dict.fromkeys(keys)] if keys is not None else repo.list_workflows()
    return [item.with_status() for item in stored]


def export_bundle(keys: Sequence[str] | None = None, *, exported_at: str | None = None) -> dict[str, Any]:
    return {"format_version": BUNDLE_FORMAT, "exported_at": exported_at, "workflows": export_definitions(keys)}
