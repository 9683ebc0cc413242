"""The workflow templates catalogue: YAML files under include/templates/workflows/.

A template file holds the template's metadata and a workflow definition with placeholders:

```yaml
template:
  name: Large deal alert
  description: Notify a manager when a deal above a threshold is created or grows past it.
  category: sales
  parameters:
    - {name: threshold, type: number, default: 50000, description: Deal amount that counts as large}
    - {name: manager_email, type: email, default: manager@example.com}
workflow:                       # a definition without `key` and `status` (given at creation)
  name: Large deal alert
  trigger: {type: record_event, entity: deals, events: [created, updated], fields: [amount]}
  conditions: {field: deal.amount, op: ">=", value: "<< threshold >>"}
  steps:
    - id: notify
      type: send_notification
      config:
        recipient: "<< manager_email >>"
        title: "Large deal: {{ trigger.new.name }} ({{ trigger.new.amount }})"
```

Placeholders are `<< expression >>` (and `<% ... %>` blocks), rendered at creation in a sandboxed
Jinja environment with the parameter values as variables. They cannot collide with the run-time
Jinja of definitions: `{{ trigger.new.name }}` is plain text to the parameter renderer and stays
for the run. A string that is exactly one placeholder takes the value's own type (an integer
parameter stays an integer, a list a list); a placeholder inside a longer string is text. Quote
placeholders in YAML (`"<< x >>"`).

Parameter types: string, integer, number, boolean, email, list (`items: string|integer`; a
comma-separated string is accepted too). Optional `choices`, `minimum`, `maximum`. Values are
checked before rendering (errors at `parameters.<name>`), and the rendered definition goes
through the normal validation; an error there that comes from a placeholder is reported at the
parameter it came from.
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import StrictUndefined, meta
from jinja2 import TemplateError as JinjaError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from automation.actions import describe_step
from automation.config import include_dir
from automation.definitions import Workflow
from automation.definitions.issues import issues_from_validation_error, join_path
from automation.definitions.triggers import describe_trigger
from automation.errors import DefinitionError, Issue, NotFoundError, TemplateError
from automation.templating.names import is_name_problem
from automation.templating.sandbox import bounded_environment, render_bounded
from automation.validation import validate_definition

log = logging.getLogger(__name__)

TEMPLATE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ParameterType = Literal["string", "integer", "number", "boolean", "email", "list"]
#: linear: the dots split the domain into parts that cannot overlap (no backtracking on long input)
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;.]+(?:\.[^@\s,;.]+)+$")
_EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "email": "an email address such as name@example.com",
    "list": "a list (or comma-separated text)",
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "string": TypeAdapter(str),
    "integer": TypeAdapter(int),
    "number": TypeAdapter(int | float),
    "boolean": TypeAdapter(bool),
    "email": TypeAdapter(str),
}


class TemplateParameter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    type: ParameterType = "string"
    description: str = ""
    default: Any = None
    required: bool = True
    items: Literal["string", "integer"] = Field(default="string", description="item type of a list")
    choices: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def coerce(self, value: Any) -> Any:
        """The value in this parameter's type; `ValueError` says what was expected."""
        expected = _EXPECTED[self.type] if self.type != "list" else f"a list of {self.items}s (or comma-separated)"
        if isinstance(value, bool) and self.type in {"integer", "number"}:
            raise ValueError(f"expected {expected}, got {value!r}")
        try:
            if self.type == "list":
                items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
                if not isinstance(items, list):
                    raise ValueError
                result: Any = TypeAdapter(list[int] if self.items == "integer" else list[str]).validate_python(items)
            else:
                result = _ADAPTERS[self.type].validate_python(value)
        except (ValidationError, ValueError):
            raise ValueError(f"expected {expected}, got {value!r}") from None
        if self.type == "email" and not _EMAIL.match(result):
            raise ValueError(f"expected {expected}, got {value!r}")
        if self.choices is not None and result not in self.choices:
            raise ValueError(f"expected one of {self.choices}, got {value!r}")
        if self.minimum is not None and isinstance(result, int | float) and result < self.minimum:
            raise ValueError(f"expected at least {self.minimum:g}, got {result!r}")
        if self.maximum is not None and isinstance(result, int | float) and result > self.maximum:
            raise ValueError(f"expected at most {self.maximum:g}, got {result!r}")
        return result


class StepSummary(BaseModel):
    id: str
    type: str
    summary: str


class WorkflowTemplate(BaseModel):
    id: str
    name: str
    description: str
    category: str
    trigger: str
    trigger_type: str
    steps: list[StepSummary]
    parameters: list[TemplateParameter]
    definition: dict[str, Any]


class _TemplateMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    category: str = Field(min_length=1)
    parameters: list[TemplateParameter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> _TemplateMeta:
        names = [p.name for p in self.parameters]
        if len(names) != len(set(names)):
            raise ValueError(f"parameter names must be unique, got {names}")
        return self


class _TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: _TemplateMeta
    workflow: dict[str, Any]


def templates_dir() -> Path:
    return include_dir() / "templates" / "workflows"


# -- rendering -------------------------------------------------------------------------------------

_ENV = bounded_environment(
    variable_start_string="<<",
    variable_end_string=">>",
    block_start_string="<%",
    block_end_string="%>",
    comment_start_string="<#",
    comment_end_string="#>",
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)
_SINGLE = re.compile(r"^\s*<<(?P<expr>(?:(?!>>|<<).)*)>>\s*$", re.DOTALL)
#: The first part of the name a template-name problem is about (`unknown name 'organisation.nom'`).
_UNKNOWN = re.compile(r"^unknown (?:name|filter|test) '([^'.]+)")


def _is_placeholder_text(value: str) -> bool:
    return "<<" in value or "<%" in value or "<#" in value


def _render_text(text: str, values: dict[str, Any]) -> Any:
    """With the run-time templates' limits (sizes, loop iterations, output length)."""
    return render_bounded(_ENV, text, values, _SINGLE)


def _render(node: Any, values: dict[str, Any], path: list[str | int], used: dict[str, set[str]]) -> Any:
    """`node` with its placeholders rendered; `used` collects which parameters each path used."""
    if isinstance(node, dict):
        return {k: _render(v, values, [*path, k], used) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, values, [*path, i], used) for i, v in enumerate(node)]
    if isinstance(node, str) and _is_placeholder_text(node):
        where = join_path(path)
        try:
            used[where] = meta.find_undeclared_variables(_ENV.parse(node))
            return _render_text(node, values)
        except (JinjaError, TemplateError, ArithmeticError, TypeError, ValueError) as exc:
            raise DefinitionError([Issue(where, f"template placeholder failed: {exc}")]) from None
    return node


def _parameter_values(parameters: list[TemplateParameter], given: dict[str, Any]) -> dict[str, Any]:
    known = {p.name: p for p in parameters}
    issues = [
        Issue(f"parameters.{name}", f"unknown parameter; expected one of {sorted(known)}")
        for name in given
        if name not in known
    ]
    values: dict[str, Any] = {}
    for parameter in parameters:
        value = given.get(parameter.name, parameter.default)
        if value is None or value == "":
            if parameter.required:
                expected = _EXPECTED[parameter.type]
                issues.append(Issue(f"parameters.{parameter.name}", f"required: expected {expected}"))
            values[parameter.name] = None
            continue
        try:
            values[parameter.name] = parameter.coerce(value)
        except ValueError as exc:
            issues.append(Issue(f"parameters.{parameter.name}", str(exc)))
    if issues:
        raise DefinitionError(issues)
    return values


def _could_cause(message: str, value: Any) -> bool:
    """Whether a parameter's value can be the cause of a template-name problem at its path: it holds
    the unknown name (`{{ << field >> }}`) or template text of its own (`{{ organisation.nom }}`).
    A name problem in the template file's own `{{ ... }}` is not the parameter's."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    unknown = _UNKNOWN.match(message)
    if unknown:
        return unknown.group(1) in text
    return "{{" in text or "{%" in text


def _blame_parameters(issues: list[Issue], used: dict[str, set[str]], values: dict[str, Any]) -> list[Issue]:
    """A definition error at a path a placeholder filled is the parameter's error (a template-name
    problem only when the parameter's value can have caused it)."""
    blamed = []
    for issue in issues:
        names = next(
            (sorted(names) for where, names in used.items() if names and _within(issue.path, where)),
            None,
        )
        if names and is_name_problem(issue.message):
            names = [n for n in names if _could_cause(issue.message, values.get(n))]
        if names:
            blamed += [Issue(f"parameters.{n}", f"{issue.message} (at {issue.path})") for n in names]
        else:
            blamed.append(issue)
    return blamed


def _within(a: str, b: str) -> bool:
    """One path contains the other (`steps[0].config` and `steps[0].config.to`)."""
    short, long = sorted((a, b), key=len)
    return bool(short) and (long == short or long.startswith((f"{short}.", f"{short}[")))


# -- the catalogue ---------------------------------------------------------------------------------


def _summary_values(parameters: list[TemplateParameter]) -> dict[str, Any]:
    return {p.name: p.default if p.default is not None else f"<{p.name}>" for p in parameters}


def _load(path: Path) -> WorkflowTemplate:
    """The parsed template, re-read only when the file changes."""
    stat = path.stat()
    return _load_cached(path, stat.st_mtime_ns, stat.st_size).model_copy(deep=True)


@lru_cache(maxsize=256)
def _load_cached(path: Path, mtime_ns: int, size: int) -> WorkflowTemplate:
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _TemplateFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise DefinitionError([Issue("", f"not valid YAML: {exc}")], source) from None
    except ValidationError as exc:
        raise DefinitionError(issues_from_validation_error(exc), source) from None
    meta_ = parsed.template
    try:
        shown = _render(parsed.workflow, _summary_values(meta_.parameters), [], {})
    except DefinitionError:
        shown = parsed.workflow
    trigger = shown.get("trigger") if isinstance(shown.get("trigger"), dict) else {}
    steps = [s for s in shown.get("steps") or [] if isinstance(s, dict)]
    return WorkflowTemplate(
        id=path.stem,
        name=meta_.name,
        description=meta_.description,
        category=meta_.category,
        trigger=describe_trigger(trigger),
        trigger_type=str(trigger.get("type", "")),
        steps=[StepSummary(id=str(s.get("id")), type=str(s.get("type")), summary=describe_step(s)) for s in steps],
        parameters=meta_.parameters,
        definition=parsed.workflow,
    )


def _template_files() -> list[Path]:
    folder = templates_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and TEMPLATE_ID.match(p.stem))


def list_templates(category: str | None = None) -> list[WorkflowTemplate]:
    """Every valid template (sorted by category then name); a broken file is logged and left out."""
    templates = []
    for path in _template_files():
        try:
            templates.append(_load(path))
        except DefinitionError as exc:
            log.warning("skipping workflow template %s", exc)
    if category is not None:
        templates = [t for t in templates if t.category == category]
    return sorted(templates, key=lambda t: (t.category, t.name))


def get_template(template_id: str) -> WorkflowTemplate:
    if TEMPLATE_ID.match(template_id):
        for path in _template_files():
            if path.stem == template_id:
                return _load(path)
    raise NotFoundError(f"template {template_id!r} does not exist")


def render_template(
    template_id: str,
    values: dict[str, Any],
    *,
    key: str,
    name: str | None = None,
    status: str = "ACTIVE",
) -> Workflow:
    """The template's workflow with `values` for its parameters, fully validated."""
    template = get_template(template_id)
    resolved = _parameter_values(template.parameters, values)
    used: dict[str, set[str]] = {}
    rendered = _render(template.definition, resolved, [], used)
    data = {**rendered, "key": key, "status": status, "name": name or rendered.get("name") or template.name}
    try:
        return validate_definition(data)
    except DefinitionError as exc:
        raise DefinitionError(_blame_parameters(exc.issues, used, resolved)) from None
