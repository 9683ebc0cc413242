"""What the workflow editor (editor.html + static/editor.js) needs from the server, and its draft checks.

Invariant: no form of the editor is written per action or per trigger type. The browser builds them
from the data `bootstrap` gives: the workflow JSON Schema with each action's config schema under
`$defs/actions` (`validation.json_schema`, so an action added later gets a form for free), the
collections registry (entities, typed columns, relations, the condition fields each entity offers),
the named notification templates (as the `examples` of each `template` property),
the one operator table (`definitions.operators.OPERATORS`) and the statuses. A draft is validated,
dry-run and compared with the stored version through the same rules as the API (the services'
`validate` and `dry_run_definition`, `definition_diff` on the stored form), and every problem
comes back as an `Issue` with its path (`steps.0.config.to`), which the page shows at that field.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import yaml

from automation.config import dag_id_for
from automation.definitions import Status
from automation.definitions.diff import definition_diff
from automation.definitions.files import load_yaml
from automation.definitions.notices import TEMPLATE_NAME_PATTERN
from automation.definitions.operators import OPERATORS
from automation.definitions.triggers import record_names
from automation.errors import AutomationError, Issue, RegistryError
from automation.records.registry import get_registry
from automation.services import workflows
from automation.services.errors import form_issues
from automation.store.repository import stored_definition
from automation.templating.notification_templates import template_names
from automation.validation import json_schema

#: A new workflow's starting point: a record trigger and one step, so every part of the form shows.
NEW_DEFINITION: dict[str, Any] = {
    "key": "",
    "name": "",
    "description": "",
    "status": Status.DRAFT.value,
    "trigger": {"type": "record_event", "entity": "deals", "events": ["created", "updated"]},
    "steps": [{"id": "step_1", "type": "create_task", "config": {"title": ""}}],
}
#: What a text that is not a definition is answered with (at the text view's path).
TEXT_PATH = "text"


def operators() -> list[dict[str, Any]]:
    """The operator table as the condition builder shows it (name, words, takes a value, what value)."""
    return [
        {"name": spec.name, "words": spec.words, "unary": spec.unary, "values": spec.values}
        for spec in OPERATORS.values()
    ]


def entity_fields(
    entity: str, columns: dict[str, str], relations: dict[str, str], all_columns: dict[str, Any]
) -> list[dict[str, str]]:
    """The condition fields a record trigger on `entity` offers (with each one's column type): the
    record's own names (`deal.amount`, by `record_names`), `new.`/`old.` (before the change), and each
    relation's columns as a lookup (`lookup:users.team`, read through the relation's id column)."""
    names = [
        name for name, relation in record_names(SimpleNamespace(entity=entity, alias=None)).items() if not relation
    ]
    prefixes = [*names[-1:], "new", "old"]  # the singular (`deal`) rather than the collection's name
    fields = [{"path": f"{p}.{c}", "type": t} for p in prefixes for c, t in columns.items()]
    for relation, collection in relations.items():
        for column, column_type in all_columns.get(collection, {}).items():
            fields.append({"path": f"lookup:{collection}.{column}", "type": column_type, "relation": relation})
    return fields


def registry_data() -> dict[str, Any]:
    """Entities of the collections registry: columns (name -> type), relations (name -> collection,
    id column) and the condition fields; empty when the registry cannot be read (the form still works
    with typed names, and validate reports the registry's problem)."""
    try:
        registry = get_registry()
    except (RegistryError, AutomationError, OSError):
        return {}
    columns: dict[str, dict[str, str]] = {name: dict(spec.columns) for name, spec in registry.collections.items()}
    data: dict[str, Any] = {}
    for name, spec in registry.collections.items():
        relations = {r: rel.collection for r, rel in spec.relations.items()}
        data[name] = {
            "columns": columns[name],
            "relations": {r: {"collection": rel.collection, "column": rel.column} for r, rel in spec.relations.items()},
            "fields": entity_fields(name, columns[name], relations, columns),
        }
    return data


@cache
def schema() -> dict[str, Any]:
    """The workflow JSON Schema with every action's (the registry of actions is fixed per process)."""
    return json_schema()


def _names_a_template(prop: Any) -> bool:
    options = prop.get("anyOf", [prop]) if isinstance(prop, dict) else []
    return any(isinstance(o, dict) and o.get("pattern") == TEMPLATE_NAME_PATTERN for o in options)


def with_template_names(node: Any, names: list[str]) -> Any:
    """The schema with the named notification templates there are now (include/templates/notifications)
    as the `examples` of every `template` property that names one (a notice's, a notification step's):
    the form offers them, like the registry's entities, and the schema itself stays as validated."""
    if isinstance(node, list):
        return [with_template_names(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {k: with_template_names(v, names) for k, v in node.items()}
    properties = copy.get("properties")
    if isinstance(properties, dict) and _names_a_template(properties.get("template")):
        properties["template"] = {**properties["template"], "examples": names}
    return copy


def bootstrap(definition: dict[str, Any], *, key: str | None, version: int | None, webhook_base: str) -> dict[str, Any]:
    """Everything the editor's script needs, embedded in the page as JSON (escaped by `tojson`)."""
    return {
        "definition": definition,
        "key": key,
        "version": version,
        "dag_id": dag_id_for(key) if key else None,
        "schema": with_template_names(schema(), template_names()),
        "registry": registry_data(),
        "operators": operators(),
        "statuses": [s.value for s in Status],
        "webhook_base": webhook_base,
    }


def issues_of(exc: AutomationError) -> list[Issue]:
    """The issues a draft's error means to the form; the error itself when it is not the form's."""
    issues = form_issues(exc)
    if issues is None:
        raise exc
    return issues


def check(definition: Any) -> list[Issue]:
    """Every problem of a draft with its path (none when it would save)."""
    if not isinstance(definition, dict):
        return [Issue("", "expected a workflow definition (an object)")]
    try:
        workflows.validate(definition)
    except AutomationError as exc:
        return issues_of(exc)
    return []


def as_text(definition: Any) -> str:
    """The draft as YAML, in the definition's own key order (the text view)."""
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)


def from_text(text: str) -> tuple[Any, list[Issue]]:
    """A definition typed as YAML or JSON (JSON is YAML), read with the bounded loader."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Issue(TEXT_PATH, f"not valid YAML or JSON{where}: {problem}")]
    if not isinstance(data, dict):
        return None, [Issue(TEXT_PATH, "expected a mapping of key, name, trigger, steps...")]
    return data, []


def draft_diff(key: str, definition: dict[str, Any]) -> tuple[int, str]:
    """(the current version, the unified diff from it to the draft as it would be stored)."""
    stored = workflows.get(key)
    new = stored_definition(workflows.validate({**definition, "key": key}))
    try:  # both in the model's key order (the database keeps its own order of a JSON object's keys)
        old = stored_definition(workflows.validate(stored.with_status()))
    except AutomationError:  # a stored version that no longer validates (the registry changed): as stored
        old = stored.with_status()
    return stored.version, definition_diff(
        old, new, old_label=f"{key} v{stored.version}", new_label=f"{key} (this draft)"
    )
