"""update_many: set fields on every record matching a filter, or on none when over the cap."""

from __future__ import annotations

from pydantic import Field

from automation.actions._records import CollectionValues, MaxRows
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register
from automation.definitions.conditions import Condition


class UpdateManyConfig(CollectionValues):
    filter: Condition | None = Field(default=None, description="clauses on the collection's columns")
    max_rows: MaxRows = 100


@register
class UpdateMany(Action[UpdateManyConfig]):
    name = "update_many"
    config_model = UpdateManyConfig
    summary = "Update every record matching a filter (capped)"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: UpdateManyConfig) -> str:
        return f"update matching {config.collection}: {', '.join(config.values or {})}"

    def execute(self, config: UpdateManyConfig, ctx: ActionContext) -> Delivered:
        ids = ctx.records.update_where(config.collection, config.filter, dict(config.values), config.max_rows)
        return Delivered({"updated": len(ids), "ids": ids})
