"""Full validation of a definition: the workflow model, then each step's action config, record
filters against the registry, the names templates and conditions read, and a nesting bound on the
whole definition.

Invariant: what passes here can be stored and serialized (no 500 after validation) and raises no
registry error for a filter's column or operator at run time unless a template chose it; every
`{{ ... }}` name and condition `field` reads something its place really sees (the trigger's names,
`steps.<id>` of an upstream step, declared params, `run`, `workflow`, `now`, `item`/`index` per
item; templating/names.py)."""

from __future__ import annotations

from functools import cache
from graphlib import TopologicalSorter
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from automation.actions import action_names, get_action
from automation.actions.base import ALLOW_TEMPLATES, is_template
from automation.actions.send_email import template_file
from automation.conditions.lookup import lookup_problems
from automation.definitions import InactivityTrigger, Step, Workflow
from automation.definitions.base import PathError
from automation.definitions.conditions import AllGroup, AnyGroup, Clause, JsonLogicCondition, NotGroup
from automation.definitions.files import MAX_NESTING
from automation.definitions.issues import issues_from_validation_error, join_path
from automation.definitions.notices import StepNotice
from automation.definitions.triggers import TemplateNames, condition_names, template_names
from automation.errors import DefinitionError, Issue, TemplateError
from automation.records.filters import filter_problems
from automation.records.registry import get_registry
from automation.templating.names import check, check_path
from automation.templating.notification_templates import notification_template
from automation.templating.notification_templates import template_names as notification_template_names

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
    if isinstance(entity, list):  # several entities: each must have the relations
        each = [workflow.trigger.model_copy(update={"entity": e}) for e in entity]
        return [i for t in each for i in _expand_issues(workflow.model_copy(update={"trigger": t}))]
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


# -- names read by templates and conditions --------------------------------------------------------

#: What a step's notices see besides the step's names (runtime/step_notices); `output` on success only.
_NOTICE_NAMES: dict[str, TemplateNames | None] = {
    "step": dict.fromkeys(("id", "name", "type")),
    "attempt": None,
    "max_attempts": None,
    "error": None,
}
#: What the config keys an action renders per item (`action.unrendered`) see besides the step's names.
_ITEM_NAMES: dict[str, TemplateNames | None] = {"item": None, "index": None}
_NOTICE_FIELDS = ("title", "body", "recipient", "email")


def _upstream(workflow: Workflow) -> dict[str, list[str]]:
    """Each step's ancestors (transitively upstream), in definition order: whose outputs it may read."""
    direct = workflow.upstream_map()
    order = {s.id: i for i, s in enumerate(workflow.steps)}
    ancestors: dict[str, set[str]] = {}
    for step_id in TopologicalSorter(direct).static_order():  # acyclic: validated by the model
        ancestors[step_id] = {*direct[step_id], *(a for d in direct[step_id] for a in ancestors[d])}
    return {k: sorted(v, key=order.__getitem__) for k, v in ancestors.items()}


def _hints(workflow: Workflow) -> dict[str, str]:
    """Why a name may be missing anywhere in the workflow."""
    if getattr(workflow.trigger, "inputs", None):
        return {"params.*": "not an input of the manual trigger; declare it under trigger.inputs"}
    return {}


def _step_hints(workflow: Workflow, step: Step, earlier: list[str]) -> dict[str, str]:
    """Why `steps.<id>` may be missing at `step`: it is the step itself, or runs after it."""
    graph = any(s.depends_on is not None for s in workflow.steps)
    hints = _hints(workflow)
    for other in workflow.steps:
        if other.id == step.id:
            hints[f"steps.{other.id}"] = "this step's own output does not exist yet"
        elif other.id not in earlier:
            hints[f"steps.{other.id}"] = "not upstream of this step in depends_on" if graph else "runs after this step"
    return hints


def _text_issues(value: Any, path: list[str | int], names: TemplateNames, hints: dict[str, str]) -> list[Issue]:
    """Each template string inside `value` (dicts and lists walked), checked against `names`."""
    if isinstance(value, str):
        return [Issue(join_path(path), problem) for problem in check(value, names, hints)]
    if isinstance(value, dict):
        return [i for k, v in value.items() for i in _text_issues(v, [*path, k], names, hints)]
    if isinstance(value, list):
        return [i for n, v in enumerate(value) for i in _text_issues(v, [*path, n], names, hints)]
    return []


def _condition_issues(condition: Any, path: str, names: TemplateNames, hints: dict[str, str]) -> list[Issue]:
    """Each clause's `field` must start with a name the condition sees (JsonLogic is not checked)."""
    if isinstance(condition, Clause):
        key = "field" if condition.via is None else "via"  # a lookup reads its id at `via`
        problem = check_path(getattr(condition, key), names, hints)
        return [Issue(f"{path}.{key}", problem)] if problem else []
    if isinstance(condition, AllGroup | AnyGroup):
        key, children = ("all", condition.all) if isinstance(condition, AllGroup) else ("any", condition.any)
        return [i for n, c in enumerate(children) for i in _condition_issues(c, f"{path}.{key}[{n}]", names, hints)]
    if isinstance(condition, NotGroup):
        return _condition_issues(condition.not_, f"{path}.not", names, hints)
    return []


def _notice_template_issues(
    notice: StepNotice, path: list[str | int], names: TemplateNames, hints: dict[str, str]
) -> list[Issue]:
    """A notice's named template exists and its texts see only what the notice sees."""
    if not notice.template:
        return []
    try:
        template = notification_template(notice.template)
    except TemplateError as exc:
        known = ", ".join(notification_template_names()) or "none"
        return [Issue(join_path(path), f"{exc} (known: {known})")]
    return _text_issues(template.model_dump(), path, names, hints)


def _notice_issues(
    workflow: Workflow, index: int, step: Step, names: TemplateNames, hints: dict[str, str]
) -> list[Issue]:
    policy = workflow.notify_policy(step)
    if policy is None:
        return []
    prefix = f"steps[{index}].notify" if step.notify is not None else "settings.notify_steps"
    issues = []
    for kind in ("start", "success", "retry", "failure"):
        notice: StepNotice | None = getattr(policy, f"on_{kind}")
        if notice is None:
            continue
        seen = {**names, **_NOTICE_NAMES, **({"output": None} if kind == "success" else {})}
        for field in _NOTICE_FIELDS:
            where: list[str | int] = [*prefix.split("."), f"on_{kind}", field]
            issues += _text_issues(getattr(notice, field), where, seen, hints)
        issues += _notice_template_issues(notice, [*prefix.split("."), f"on_{kind}", "template"], seen, hints)
    return issues


def _file_issues(
    kind: Any, config: Any, path: list[str | int], names: TemplateNames, hints: dict[str, str]
) -> list[Issue]:
    """Template files a config names (send_email's `template`), checked with the names of the step
    that renders them; a templated or missing name is left to the config's own validation and the run."""
    name = config.get("template") if isinstance(config, dict) else None
    if kind != "send_email" or not isinstance(name, str) or is_template(name):
        return []
    try:
        source = template_file(name).read_text(encoding="utf-8")
    except (PathError, OSError, UnicodeDecodeError):
        return []
    where = join_path([*path, "template"])
    return [Issue(where, f"in include/templates/email/{name}: {p}") for p in check(source, names, hints)]


def _name_issues(workflow: Workflow) -> list[Issue]:
    """Names read by step configs, `when`, notices and the workflow's conditions that the place where
    they are read does not have (each problem once per path: a default notice policy is checked
    for every step that uses it)."""
    base = template_names(workflow.trigger, workflow.settings.expand)
    conditions = condition_names(workflow.trigger, workflow.settings.expand)
    issues = _condition_issues(workflow.conditions, "conditions", {**conditions, "steps": {}}, _hints(workflow))
    ancestors = _upstream(workflow)
    for index, step in enumerate(workflow.steps):
        earlier = ancestors[step.id]
        steps: TemplateNames = {sid: {"output": None} for sid in earlier}
        names, hints = {**base, "steps": steps}, _step_hints(workflow, step, earlier)
        action = get_action(step.type)
        later = action.unrendered if action is not None else frozenset()
        for key, value in step.config.items():
            seen = {**names, **_ITEM_NAMES} if key in later else names
            issues += _text_issues(value, ["steps", index, "config", key], seen, hints)
            if key in later and isinstance(value, dict):  # a per-item action: {type, config}
                where: list[str | int] = ["steps", index, "config", key, "config"]
                issues += _file_issues(value.get("type"), value.get("config"), where, seen, hints)
        issues += _file_issues(step.type, step.config, ["steps", index, "config"], names, hints)
        issues += _condition_issues(step.when, f"steps[{index}].when", {**conditions, "steps": steps}, hints)
        issues += _notice_issues(workflow, index, step, names, hints)
    unique: dict[str, Issue] = {}
    for issue in issues:
        unique.setdefault(f"{issue.path}\0{issue.message.split(';')[0]}", issue)
    return list(unique.values())


def validate_definition(data: dict[str, Any] | Workflow, source: str | None = None) -> Workflow:
    """A valid `Workflow`, or `DefinitionError` listing every problem with its path."""
    try:
        workflow = data if isinstance(data, Workflow) else Workflow.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(issues_from_validation_error(exc), source) from None
    issues = [issue for index, step in enumerate(workflow.steps) for issue in _step_issues(index, step)]
    issues += _expand_issues(workflow) + _inactivity_issues(workflow) + _name_issues(workflow)
    issues += [Issue(p, m) for p, m in lookup_problems(workflow.conditions, "conditions")]
    for index, step in enumerate(workflow.steps):
        issues += [Issue(p, m) for p, m in lookup_problems(step.when, f"steps[{index}].when")]
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
