"""for_each: run an inner action once per item (a list or a query), as Airflow dynamic task mapping."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, model_validator

from automation.actions.base import (
    ALLOW_TEMPLATES,
    Action,
    ActionConfig,
    ActionContext,
    Capabilities,
    Delivered,
    TaskKit,
    describe_config,
)
from automation.actions.registry import get_action, register
from automation.definitions import Step
from automation.definitions.base import PathError, StrictModel
from automation.definitions.conditions import Condition
from automation.errors import PermanentActionError


class ItemsQuery(StrictModel):
    collection: str
    filter: Condition | None = None


class InnerAction(StrictModel):
    type: str
    config: dict[str, Any] = Field(default_factory=dict)


class ForEachConfig(ActionConfig):
    items: list[Any] | None = Field(default=None, description="a list, usually a template like {{ trigger.new.lines }}")
    query: ItemsQuery | None = Field(default=None, description="records of a collection matching a filter")
    max_items: int = Field(default=100, ge=1, le=10_000, description="more items fail the step, running none")
    action: InnerAction = Field(description="run per item; its config sees {{ item }} and {{ index }}")

    @model_validator(mode="after")
    def _valid(self) -> ForEachConfig:
        if (self.items is None) == (self.query is None):
            raise PathError("items", "give exactly one of items or query")
        inner = get_action(self.action.type)
        if inner is None or not inner.capabilities.per_item:
            raise PathError("action.type", f"{self.action.type!r} cannot run per item")
        try:
            inner.config_model.model_validate(self.action.config, context=ALLOW_TEMPLATES)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise PathError(f"action.config.{loc}".rstrip("."), first["msg"]) from exc
        return self


@register
class ForEach(Action[ForEachConfig]):
    name = "for_each"
    config_model = ForEachConfig
    summary = "Run an action for each item of a list or query"
    capabilities = Capabilities(idempotent=False, unrendered=frozenset({"action"}), per_item=False)

    def build_tasks(self, kit: TaskKit) -> tuple[Any, Any]:
        """A task listing the items, then a mapped task running the inner action once per item."""
        items = kit.step()
        return items, kit.each(items)

    def describe(self, config: ForEachConfig) -> str:
        query: Any = config.query  # a dict when the config was not validated (describe_step of a raw step)
        collection = query.collection if isinstance(query, ItemsQuery) else dict(query or {}).get("collection")
        source = f"{collection} matching a filter" if query is not None else config.items
        inner = config.action if isinstance(config.action, InnerAction) else InnerAction.model_validate(config.action)
        action = get_action(inner.type)
        what = describe_config(action, inner.config) if action is not None else inner.type
        return f"for each item of {source}: {what}"

    def per_item_step(self, step: Step) -> Step:
        inner = InnerAction.model_validate(step.config["action"])
        return Step(id=step.id, type=inner.type, config=inner.config, repeat_on_clear=step.repeat_on_clear)

    def execute(self, config: ForEachConfig, ctx: ActionContext) -> Delivered:
        if config.query is not None:
            items = ctx.records.select_where(config.query.collection, config.query.filter, config.max_items + 1)
        else:
            items = list(config.items or [])
        if len(items) > config.max_items:
            raise PermanentActionError(f"{len(items)} items or more; the cap is max_items={config.max_items}")
        return Delivered(items)
