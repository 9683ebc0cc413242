"""Full validation of a definition: the workflow model, then each step's action config."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from automation.actions import action_names, get_action
from automation.actions.base import ALLOW_TEMPLATES
from automation.definitions import InactivityTrigger, Step, Workflow
from automation.definitions.issues import issues_from_validation_error
from automation.errors import DefinitionError, Issue
from automation.records.registry import get_registry


def _step_issues(index: int, step: Step) -> list[Issue]:
    action = get_action(step.type)
    if action is None:
        return [Issue(f"steps[{index}].type", f"unknown action {step.type!r}; expected one of {action_names()}")]
    try:
        action.config_model.model_validate(step.config, context=ALLOW_TEMPLATES)
    except ValidationError as exc:
        return issues_from_validation_error(exc, prefix=f"steps[{index}].config")
    return []


def _expand_issues(workflow: Workflow) -> list[Issue]:
    """Each `settings.expand` path must follow the registry's relations from the trigger's entity."""
    entity = getattr(workflow.trigger, "entity", None)
    if not workflow.settings.expand:
        return []
    registry = get_registry()
    if entity not in registry.collections:
        return [Issue("settings.expand", f"the trigger's entity {entity!r} is not a registered collection")]
    issues = []
    for index, path in enumerate(workflow.settings.expand):
        collection = entity
        for part in path.split("."):
            relations = registry.collections[collection].relations
            if part not in relations:
                message = f"{collection!r} has no relation {part!r}; expected one of {sorted(relations)}"
                issues.append(Issue(f"settings.expand[{index}]", message))
                break
            collection = relations[part].collection
    return issues


def _inactivity_issues(workflow: Workflow) -> list[Issue]:
    """An inactivity scan queries its entity: a registered collection with the activity column."""
    trigger = workflow.trigger
    if not isinstance(trigger, InactivityTrigger):
        return []
    registry = get_registry()
    if trigger.entity not in registry.collections:
        return [Issue("trigger.entity", f"{trigger.entity!r} is not a registered collection; "
                                        f"expected one of {sorted(registry.collections)}")]  # fmt: skip
    columns = registry.collections[trigger.entity].columns
    if trigger.activity_field not in columns:
        return [Issue("trigger.activity_field", f"{trigger.entity!r} has no column {trigger.activity_field!r}")]
    return []


def validate_definition(data: dict[str, Any] | Workflow, source: str | None = None) -> Workflow:
    """A valid `Workflow`, or `DefinitionError` listing every problem with its path."""
    try:
        workflow = data if isinstance(data, Workflow) else Workflow.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(issues_from_validation_error(exc), source) from None
    issues = [issue for index, step in enumerate(workflow.steps) for issue in _step_issues(index, step)]
    issues += _expand_issues(workflow) + _inactivity_issues(workflow)
    if issues:
        raise DefinitionError(issues, source)
    return workflow


def parse_step_config(step: Step, rendered: dict[str, Any]) -> BaseModel:
    """The rendered config, validated strictly (no templates left) by the step's action model."""
    action = get_action(step.type)
    if action is None:
        raise DefinitionError([Issue("type", f"unknown action {step.type!r}")])
    try:
        return action.config_model.model_validate(rendered)
    except ValidationError as exc:
        raise DefinitionError(issues_from_validation_error(exc, prefix=f"steps.{step.id}.config")) from None


def json_schema() -> dict[str, Any]:
    """The workflow JSON Schema, with each action's config schema under `$defs/actions`."""
    schema = Workflow.model_json_schema(by_alias=True)
    schema["$defs"]["actions"] = {
        name: get_action(name).config_model.model_json_schema()  # type: ignore[union-attr]
        for name in action_names()
    }
    return schema
