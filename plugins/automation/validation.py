"""Full validation of a definition: the workflow model, then each step's action config, record
filters against the registry, and a nesting bound on the whole definition.

Invariant: what passes here can be stored and serialized (no 500 after validation) and raises no
registry error for a filter's column or operator at run time unless a template chose it."""

from __future__ import annotations

from functools import cache
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from automation.actions import action_names, get_action
from automation.actions.base import ALLOW_TEMPLATES
from automation.definitions import InactivityTrigger, Step, Workflow
from automation.definitions.conditions import AllGroup, AnyGroup, Clause, JsonLogicCondition, NotGroup
from automation.definitions.files import MAX_NESTING
from automation.definitions.issues import issues_from_validation_error, join_path
from automation.errors import DefinitionError, Issue
from automation.records.filters import filter_problems
from automation.records.registry import get_registry

#: Objects and lists inside one another in a whole definition, at most: the bound request bodies
#: and definition files have too (stored definitions are serialized by pydantic, which gives up
#: near 250 levels; Python callers such as the template catalogue pass dicts, not text).
MAX_DEFINITION_DEPTH = MAX_NESTING
_CONDITION_MODELS = (AllGroup, AnyGroup, NotGroup, Clause, JsonLogicCondition)


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether objects/lists nest more than `limit` levels (breadth-first, one level at a time)."""
    level, frontier = 1, [data] if isinstance(data, dict | list) else []
    while frontier:
        if level > limit:
            return True
        children = (node.values() if isinstance(node, dict) else node for node in frontier)
        frontier = [value for values in children for value in values if isinstance(value, dict | list)]
        level += 1
    return False


def _depth_issue(data: Any) -> Issue | None:
    """An issue at the first path nested deeper than `MAX_DEFINITION_DEPTH` (iterative walks; the
    path is built only for the node reported)."""
    if not _deeper_than(data, MAX_DEFINITION_DEPTH):
        return None
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(data, 1, ())]
    while stack:
        node, depth, trail = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_DEFINITION_DEPTH:
            parts: list[str | int] = []
            while trail:
                trail, key = trail
                parts.append(key)
            path = join_path(reversed(parts))
            shown = path if len(path) <= 120 else path[:117] + "..."
            return Issue(shown, f"nested more than {MAX_DEFINITION_DEPTH} levels deep (objects and lists inside one "
                                "another); flatten it")  # fmt: skip
        items = enumerate(node) if isinstance(node, list) else node.items()
        stack.extend((value, depth + 1, (trail, key)) for key, value in items)
    return None


def _step_config(index: int, step: Step) -> tuple[BaseModel | None, list[Issue]]:
    action = get_action(step.type)
    if action is None:
        return None, [Issue(f"steps[{index}].type", f"unknown action {step.type!r}; expected one of {action_names()}")]
    try:
        return action.config_model.model_validate(step.config, context=ALLOW_TEMPLATES), []
    except ValidationError as exc:
        return None, issues_from_validation_error(exc, prefix=f"steps[{index}].config")


def _inner_config(value: BaseModel) -> BaseModel | None:
    """The validated config of a nested `{type, config}` action (for_each's `action`), else None."""
    kind, config = getattr(value, "type", None), getattr(value, "config", None)
    inner = get_action(kind) if isinstance(kind, str) and isinstance(config, dict) else None
    if inner is None:
        return None
    try:
        return inner.config_model.model_validate(config, context=ALLOW_TEMPLATES)
    except ValidationError:
        return None  # reported by the outer config's own validation


def _mentions_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_model(arg) for arg in get_args(annotation))


@cache
def _model_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a config model that may hold another model (where a filter can be)."""
    return tuple(name for name, field in model.model_fields.items() if _mentions_model(field.annotation))


def _filter_sites(model: BaseModel, path: str) -> list[tuple[str, str, Any]]:
    """`(path, collection, filter)` of each record filter in a validated config: a model with both
    `collection` and `filter` (update_many, delete_many, for_each's query), also inside the
    per-item action of for_each."""
    sites = []
    collection, condition = getattr(model, "collection", None), getattr(model, "filter", None)
    if isinstance(collection, str) and isinstance(condition, _CONDITION_MODELS):
        sites.append((f"{path}.filter", collection, condition))
    for name in _model_fields(type(model)):
        value = getattr(model, name)
        if not isinstance(value, BaseModel) or isinstance(value, _CONDITION_MODELS):
            continue
        inner = _inner_config(value)
        sites += _filter_sites(inner, f"{path}.{name}.config") if inner else _filter_sites(value, f"{path}.{name}")
    return sites


def _filter_issues(sites: list[tuple[str, str, Any]]) -> list[Issue]:
    """A filter's columns and operators, checked against the registry as `where_clause` does."""
    if not sites:
        return []
    registry = get_registry()
    issues = []
    for path, collection, condition in sites:
        if collection not in registry.collections:
            continue  # the collection itself is reported where it is named
        columns = registry.collections[collection].columns
        issues += [Issue(p, m) for p, m in filter_problems(condition, columns, path, templates=True)]
    return issues


def _step_issues(index: int, step: Step) -> list[Issue]:
    config, issues = _step_config(index, step)
    return _filter_issues(_filter_sites(config, f"steps[{index}].config")) if config is not None else issues


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
    return [Issue(path, message) for path, message in filter_problems(trigger.filter, columns, "trigger.filter")]


def validate_definition(data: dict[str, Any] | Workflow, source: str | None = None) -> Workflow:
    """A valid `Workflow`, or `DefinitionError` listing every problem with its path."""
    try:
        workflow = data if isinstance(data, Workflow) else Workflow.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(issues_from_validation_error(exc), source) from None
    issues = [issue for index, step in enumerate(workflow.steps) for issue in _step_issues(index, step)]
    issues += _expand_issues(workflow) + _inactivity_issues(workflow)
    if not issues and not isinstance(data, Workflow) and (deep := _depth_issue(data)):
        issues.append(deep)
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
