"""The "create a workflow from a template" form: what was typed (kept for redisplay), the typed
values it means, and the errors to show next to each field (keyed like DefinitionError paths)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from automation.catalogue.templates import TemplateParameter, WorkflowTemplate
from automation.definitions import Status
from automation.definitions.base import Slug
from automation.errors import Issue

#: Input types per parameter type (booleans are checkboxes, choices a select, lists comma-separated text).
INPUT_TYPES = {"string": "text", "email": "email", "integer": "number", "number": "number", "list": "text"}
GENERAL = ""  # errors[GENERAL]: a problem with no field of its own
_KEY = TypeAdapter(Slug)


def field_name(parameter: TemplateParameter) -> str:
    return f"parameters.{parameter.name}"


def _shown(parameter: TemplateParameter, value: Any) -> str:
    if value is None:
        return ""
    if parameter.type == "list" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if parameter.type == "boolean":
        return "true" if value is True or str(value).lower() in ("true", "1", "yes", "on") else ""
    return str(value)


class TemplateForm(BaseModel):
    template: WorkflowTemplate
    key: str = ""
    name: str = ""
    status: str = Status.ACTIVE.value
    values: dict[str, str] = {}  # field name -> text as typed
    errors: dict[str, str] = {}  # field name (or GENERAL) -> message

    @classmethod
    def initial(cls, template: WorkflowTemplate) -> TemplateForm:
        values = {field_name(p): _shown(p, p.default) for p in template.parameters}
        return cls(template=template, name=template.name, values=values)

    @classmethod
    def from_post(cls, template: WorkflowTemplate, fields: dict[str, str]) -> TemplateForm:
        form = cls(
            template=template,
            key=fields.get("key", "").strip(),
            name=fields.get("name", "").strip(),
            status=fields.get("status", Status.ACTIVE.value),
            values={field_name(p): fields.get(field_name(p), "") for p in template.parameters},
        )
        try:
            _KEY.validate_python(form.key)
        except ValidationError:
            what = "required" if not form.key else f"{form.key!r} is not a key"
            form.errors["key"] = f"{what}: expected lowercase letters, digits, - and _, such as deal-follow-up"
        if form.status not in {s.value for s in Status}:
            form.errors["status"] = f"expected one of {', '.join(s.value for s in Status)}"
        return form

    def input_type(self, parameter: TemplateParameter) -> str:
        return INPUT_TYPES.get(parameter.type, "text")

    def parameter_values(self) -> dict[str, Any]:
        """The filled fields as typed (the catalogue coerces and checks them); an empty field is left
        out so the template's default applies, or the catalogue reports the parameter missing."""
        values: dict[str, Any] = {}
        for parameter in self.template.parameters:
            text = self.values[field_name(parameter)].strip()
            if parameter.type == "boolean":
                values[parameter.name] = text == "true"
            elif text:
                values[parameter.name] = text
        return values

    def add_issues(self, issues: list[Issue]) -> None:
        fields = {"key", "name", "status", *self.values}
        for issue in issues:
            target = issue.path if issue.path in fields else GENERAL
            message = issue.message if target else str(issue)
            self.errors[target] = f"{self.errors[target]}; {message}" if target in self.errors else message
