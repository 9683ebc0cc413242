"""The reference pages of the documentation, generated from the code: never a hand copy that drifts.

Invariant: every page under `reference/` is computed at build time from the workflow JSON Schema
(`automation.validation.json_schema()`), the action registry, the settings module and the plugin
app's OpenAPI document. Nothing here runs inside the product: MkDocs loads this file as a hook
(`mkdocs.yml: hooks`) and adds the pages to the build in memory; `python docs/gen_reference.py OUT`
writes them to a directory for reading without MkDocs."""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"

TRIGGERS = ["RecordEventTrigger", "ScheduleTrigger", "InactivityTrigger", "WebhookTrigger", "PollTrigger"]
TRIGGERS += ["ManualTrigger"]
CONDITIONS = ["Clause", "AllGroup", "AnyGroup", "NotGroup", "JsonLogicCondition"]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _ensure_importable() -> None:
    """The package is installed in the virtualenv; from a bare checkout, plugins/ is enough."""
    if str(PLUGINS) not in sys.path:
        sys.path.append(str(PLUGINS))


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell (pipes and newlines escaped)."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _code(value: Any) -> str:
    return "`" + json.dumps(value, ensure_ascii=False).replace("|", "\\|").replace("`", "'") + "`"


def _anchor(name: str) -> str:
    return name.lower()


def type_of(schema: dict[str, Any], link: bool = True) -> str:
    """A short, readable type for one JSON Schema node (`string`, `list of integer`, `Signature`...)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})" if link else name
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return " \\| ".join(_code(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [type_of(s, link) for s in schema[key] if s.get("type") != "null"]
            optional = any(s.get("type") == "null" for s in schema[key])
            return " or ".join(parts) + (" or null" if optional else "")
    kind = schema.get("type")
    if kind == "array":
        return "list of " + type_of(schema.get("items", {}), link)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map of " + type_of(schema["additionalProperties"], link)
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _bounds(schema: dict[str, Any]) -> str:
    notes = []
    for key, label in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
    ):
        if key in schema:
            notes.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        notes.append(f"pattern `{schema['pattern']}`".replace("|", "\\|"))
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            inner = _bounds(sub)
            if inner:
                notes.append(inner)
    return "; ".join(notes)


def model_table(schema: dict[str, Any]) -> str:
    """One Markdown table of a model's properties: field, type, required or default, description."""
    props = schema.get("properties", {})
    if not props:
        return "_No fields._\n"
    required = set(schema.get("required", []))
    rows = ["| field | type | required / default | description |", "|---|---|---|---|"]
    for name, prop in props.items():
        need = "required" if name in required else ("default " + _code(prop["default"]) if "default" in prop else "")
        description = prop.get("description", "")
        bounds = _bounds(prop)
        if bounds:
            description = f"{description} ({bounds})" if description else bounds
        rows.append(f"| `{name}` | {type_of(prop)} | {need} | {_cell(description)} |")
    return "\n".join(rows) + "\n"


def _section(name: str, schema: dict[str, Any], level: int = 2) -> str:
    text = f"{'#' * level} {name}\n\n"
    if schema.get("description"):
        text += schema["description"].strip() + "\n\n"
    if "enum" in schema:
        return text + "One of " + ", ".join(_code(v) for v in schema["enum"]) + ".\n\n"
    return text + model_table(schema) + "\n"


def _referenced(schema: Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in schema.values():
            _referenced(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _referenced(value, found)
    return found


def _closure(defs: dict[str, Any], names: list[str]) -> list[str]:
    """`names` followed by every model they reference (transitively), in first-seen order."""
    order, queue = [], list(names)
    while queue:
        name = queue.pop(0)
        if name in order or name not in defs:
            continue
        order.append(name)
        queue.extend(sorted(_referenced(defs[name], set())))
    return order


def _trigger_models(defs: dict[str, Any]) -> list[str]:
    """The trigger models and what they reference, except the condition models (on their own page)."""
    conditions = set(_closure(defs, CONDITIONS))
    return [name for name in _closure(defs, TRIGGERS) if name not in conditions]


def _relink(text: str, names: list[str], page: str) -> str:
    """Point in-page links to `names` at their section of `page`."""
    if not names:
        return text
    pattern = r"\]\(#(" + "|".join(re.escape(_anchor(n)) for n in names) + r")\)"
    return re.sub(pattern, lambda m: f"]({page}#{m.group(1)})", text)


GENERATED = "<!-- generated by docs/gen_reference.py at build time: edit the code, not this page -->\n\n"


def triggers_page(schema: dict[str, Any]) -> str:
    defs = schema["$defs"]
    text = GENERATED + "# Triggers\n\n"
    text += (
        "A workflow has one `trigger`; its `type` selects the model below. Generated from the workflow JSON "
        "Schema (`automation schema` prints the same document).\n\n"
    )
    text += "| type | model | what starts a run |\n|---|---|---|\n"
    for name in TRIGGERS:
        kind = defs[name]["properties"]["type"].get("const", "")
        text += f"| `{kind}` | [{name}](#{_anchor(name)}) | {_cell(defs[name].get('description', ''))} |\n"
    text += "\n"
    for name in _trigger_models(defs):
        text += _section(name, defs[name])
    return _relink(text, _closure(defs, CONDITIONS), "conditions.md")


def conditions_page(schema: dict[str, Any]) -> str:
    defs = schema["$defs"]
    ops = defs["Clause"]["properties"]["op"]["enum"]
    text = GENERATED + "# Conditions\n\n"
    text += (
        "A workflow's `conditions` gate its steps: a clause, a group (`all`, `any`, `not`) nesting further "
        "conditions, or a JsonLogic expression. Operators of a clause: " + ", ".join(f"`{op}`" for op in ops) + ".\n\n"
        "See [Using it](../using.md#triggers-conditions-steps) for the semantics of each operator and the work "
        "bounds.\n\n"
    )
    for name in _closure(defs, CONDITIONS):
        text += _section(name, defs[name])
    return text


def workflow_page(schema: dict[str, Any]) -> str:
    defs = {k: v for k, v in schema["$defs"].items() if k != "actions"}
    text = GENERATED + "# Workflow definition\n\n"
    text += "The top-level document of a workflow (YAML or JSON). Triggers and conditions have their own pages.\n\n"
    text += _section("Workflow", {k: v for k, v in schema.items() if k != "$defs"})
    triggers, conditions = _trigger_models(defs), _closure(defs, CONDITIONS)
    skip = set(triggers) | set(conditions)
    names = [n for n in _closure(defs, sorted(_referenced(schema["properties"], set()))) if n not in skip]
    for name in names:
        text += _section(name, defs[name])
    return _relink(_relink(text, triggers, "triggers.md"), conditions, "conditions.md")


def actions_page(schema: dict[str, Any]) -> str:
    from automation.actions import action_names, get_action

    text = GENERATED + "# Actions\n\n"
    text += (
        "Every step has a `type` (an action of the registry, `plugins/automation/actions/`) and a `config` "
        "validated by the action's model. Strings in a config may be templates (`{{ trigger.new.x }}`); they "
        "are validated again after rendering. Flags: **external** (reaches outside the machine: described, "
        "not run, by a dry run), **idempotent** (its output is recorded as an effect: a retry or clear returns "
        "it instead of acting again), **mapped** (one Airflow task instance per item).\n\n"
    )
    text += "| action | summary | flags |\n|---|---|---|\n"
    for name in action_names():
        action = get_action(name)
        flags = [f for f, on in (("external", action.external), ("idempotent", action.idempotent),
                                 ("mapped", action.expands)) if on]  # fmt: skip
        text += f"| [`{name}`](#{name.replace('_', '-')}) | {_cell(action.summary)} | {', '.join(flags)} |\n"
    text += "\n"
    for name in action_names():
        action = get_action(name)
        config = schema["$defs"]["actions"][name]
        text += f"## `{name}` {{#{name.replace('_', '-')}}}\n\n"
        if action.summary:
            text += action.summary.rstrip(".") + ".\n\n"
        module_doc = inspect.getdoc(sys.modules[type(action).__module__]) or ""
        if module_doc:
            text += module_doc.split("\n\n")[0].replace("\n", " ") + "\n\n"
        text += f"Config model `{config.get('title', '')}`:\n\n" + model_table(config) + "\n"
        for sub, sub_schema in config.get("$defs", {}).items():
            text += f"### {sub} {{#{_anchor(sub)}}}\n\n" + model_table(sub_schema) + "\n"
    return _dedupe_anchors(text)


def _dedupe_anchors(text: str) -> str:
    """Nested models shared by several actions appear under each; keep their anchors unique per page."""
    seen: dict[str, int] = {}

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        seen[name] = seen.get(name, 0) + 1
        return match.group(0) if seen[name] == 1 else f"{{#{name}-{seen[name]}}}"

    return re.sub(r"\{#([a-z0-9_-]+)\}", rename, text)


def settings_page() -> str:
    from automation.config import settings_markdown

    connections = (
        "Connections (`automation_db`, `airflow_metadata_db`, `smtp_default`, HTTP and webhook secrets) are "
        "Airflow connections: see [Configuration](../configuration.md#connections).\n\n"
    )
    return GENERATED + "# Settings\n\n" + settings_markdown().strip() + "\n\n" + connections


def http_api_page(spec: dict[str, Any]) -> str:
    text = GENERATED + "# HTTP API\n\n"
    text += (
        f"{spec['info']['title']} {spec['info']['version']}: the plugin's FastAPI app, mounted by Airflow under "
        "`/automation` (so `/api/v1/events` is `http://<airflow>/automation/api/v1/events`). Every route "
        "except the signed webhooks needs Airflow auth (a JWT from `POST /auth/token`, or the UI session). "
        "The live document is served at `/automation/openapi.json`. Bad input gets a 4xx with "
        "`{detail, errors: [{path, message}]}`, never a 500.\n\n"
    )
    text += "| method | path | summary |\n|---|---|---|\n"
    operations = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operations.append((path, method, item[method]))
    for path, method, op in operations:
        anchor = op.get("operationId", f"{method}-{path}").lower().replace("_", "-")
        text += f"| {method.upper()} | [`/automation{path}`](#{anchor}) | {_cell(op.get('summary', ''))} |\n"
    text += "\n"
    for path, method, op in operations:
        anchor = op.get("operationId", f"{method}-{path}").lower().replace("_", "-")
        text += f"## {method.upper()} `/automation{path}` {{#{anchor}}}\n\n"
        if op.get("description"):
            text += op["description"].strip() + "\n\n"
        params = op.get("parameters", [])
        if params:
            text += "| parameter | in | type | required | description |\n|---|---|---|---|---|\n"
            for p in params:
                text += (
                    f"| `{p['name']}` | {p['in']} | {_cell(type_of(p.get('schema', {}), link=False))} | "
                    f"{'yes' if p.get('required') else ''} | {_cell(p.get('description', ''))} |\n"
                )
            text += "\n"
        body = op.get("requestBody", {}).get("content", {})
        for media, content in body.items():
            text += f"Request body ({media}): {_cell(type_of(content.get('schema', {})))}\n\n"
        responses = op.get("responses", {})
        if responses:
            text += "| status | meaning | body |\n|---|---|---|\n"
            for status, response in responses.items():
                schema = next(iter(response.get("content", {}).values()), {}).get("schema", {})
                shown = type_of(schema) if schema else ""
                text += f"| {status} | {_cell(response.get('description', ''))} | {_cell(shown)} |\n"
            text += "\n"
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        text += "## Schemas\n\nThe request and response bodies named above.\n\n"
        for name, schema in schemas.items():
            text += _section(name, schema, level=3)
    return text


def pages() -> dict[str, str]:
    """Every generated page, keyed by its path under docs/."""
    _ensure_importable()
    from automation.api.app import create_app
    from automation.validation import json_schema

    schema = json_schema()
    return {
        "reference/workflow.md": workflow_page(schema),
        "reference/triggers.md": triggers_page(schema),
        "reference/conditions.md": conditions_page(schema),
        "reference/actions.md": actions_page(schema),
        "reference/settings.md": settings_page(),
        "reference/http-api.md": http_api_page(create_app().openapi()),
    }


def on_files(files: Any, config: Any) -> Any:
    """MkDocs hook: add the generated pages to the build (nothing is written into docs/)."""
    from mkdocs.structure.files import File

    for path, content in pages().items():
        files.append(File.generated(config, path, content=content))
    return files


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "site-reference"
    for path, content in pages().items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
