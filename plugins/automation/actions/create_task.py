"""create_task: a task record with a title, an assignee and a due date relative to now or a date."""

from __future__ import annotations

from typing import Any

import pendulum
from pydantic import Field

from automation.actions._records import CollectionConfig, RecordId
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register
from automation.errors import PermanentActionError
from automation.templating.sandbox import relative_datetime


class CreateTaskConfig(CollectionConfig):
    collection: str = "tasks"
    title: str = Field(min_length=1)
    description: str | None = None
    assignee_id: RecordId | None = None
    due: str | None = Field(default=None, description='"+7 days", "-1 day", or an ISO date/datetime')
    due_relative_to: str | None = Field(default=None, description="a date the relative `due` counts from")
    values: dict[str, Any] = Field(default_factory=dict, description="other columns, e.g. deal_id")

    def _columns(self) -> list[str]:
        return ["title", "description", "assignee_id", "due_date", *self.values]


def due_date(due: str | None, relative_to: str | None) -> str | None:
    if not due:
        return None
    moment = relative_datetime(due, relative_to)
    if moment is not None:
        return moment.isoformat()
    try:
        parsed = pendulum.parse(due)
    except Exception:
        parsed = None
    if not isinstance(parsed, pendulum.Date | pendulum.Time):  # a DateTime is a Date
        raise PermanentActionError(f'due: expected "+N days" or an ISO date, got {due!r}')
    return parsed.isoformat()


@register
class CreateTask(Action[CreateTaskConfig]):
    name = "create_task"
    config_model = CreateTaskConfig
    summary = "Create a task with an assignee and a due date"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: CreateTaskConfig) -> str:
        return f"task {config.title!r}" + (f", due {config.due}" if config.due else "")

    def execute(self, config: CreateTaskConfig, ctx: ActionContext) -> Delivered:
        values = {"title": config.title, **config.values}
        if config.description is not None:
            values["description"] = config.description
        if config.assignee_id is not None:
            values["assignee_id"] = config.assignee_id
        if due := due_date(config.due, config.due_relative_to):
            values["due_date"] = due
        return Delivered(ctx.records.insert(config.collection, values))
