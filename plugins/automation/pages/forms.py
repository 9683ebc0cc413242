"""The "create a workflow from a template" form: what was typed (kept for redisplay), the typed
values it means, and the errors to show next to each field (keyed like DefinitionError paths)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from automation.catalogue.templates import TemplateParameter, WorkflowTemplate
from automation.definitions import Status
from automation.errors import Issue

#: Input types per parameter type (booleans are checkboxes, lists comma-separated text).
INPUT_TYPES = {"string": "text", "email": "email", "integer": "number", "number": "number", "list": "text"}
GENERAL = ""  # errors[GENERAL]: a problem with no field of its own


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


def _typed(parameter: TemplateParameter, text: str) -> Any:
    """The value a field's text means; ValueError with what was expected."""
    text = text.strip()
    if parameter.type == "boolean":
        return text == "true"
    if parameter.type == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if parameter.type == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if parameter.type == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


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
        if not form.key:
            form.errors["key"] = "required: a workflow key such as deal-follow-up (lowercase, digits, - and _)"
        if form.status not in {s.value for s in Status}:
            form.errors["status"] = f"expected one of {', '.join(s.value for s in Status)}"
        for parameter in template.parameters:
            text = form.values[field_name(parameter)]
            if text.strip() and parameter.type != "boolean":
                try:
                    _typed(parameter, text)
                except ValueError as exc:
                    form.errors[field_name(parameter)] = str(exc)
        return form

    def input_type(self, parameter: TemplateParameter) -> str:
        return INPUT_TYPES.get(parameter.type, "text")

    def parameter_values(self) -> dict[str, Any]:
        """Typed values of the fields that were filled (an empty field lets the template's default
        apply, or the template report the parameter as missing)."""
        values: dict[str, Any] = {}
        for parameter in self.template.parameters:
            text = self.values[field_name(parameter)]
            if parameter.type == "boolean" or text.strip():
                values[parameter.name] = _typed(parameter, text)
        return values

    def add_issues(self, issues: list[Issue]) -> None:
        fields = {"key", "name", "status", *self.values}
        for issue in issues:
            target = issue.path if issue.path in fields else GENERAL
            message = issue.message if target else str(issue)
            self.errors[target] = f"{self.errors[target]}; {message}" if target in self.errors else message
