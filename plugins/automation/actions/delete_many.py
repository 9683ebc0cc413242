"""delete_many: delete every record matching a filter, or none when over the cap."""

from __future__ import annotations

from pydantic import Field

from automation.actions._records import CollectionConfig, MaxRows
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register
from automation.definitions.conditions import Condition


class DeleteManyConfig(CollectionConfig):
    filter: Condition = Field(description="clauses on the collection's columns (required: no blind deletes)")
    max_rows: MaxRows = 100


@register
class DeleteMany(Action[DeleteManyConfig]):
    name = "delete_many"
    config_model = DeleteManyConfig
    summary = "Delete every record matching a filter (capped)"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: DeleteManyConfig) -> str:
        return f"delete matching {config.collection}"

    def execute(self, config: DeleteManyConfig, ctx: ActionContext) -> Delivered:
        ids = ctx.records.delete_where(config.collection, config.filter, config.max_rows)
        return Delivered({"deleted": len(ids), "ids": ids})
