"""update_many: set fields on every record matching a filter, or on none when over the cap."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from automation.actions._records import CollectionValues, MaxRows
from automation.actions.base import Action, ActionContext
from automation.actions.registry import register
from automation.definitions.conditions import Condition


class UpdateManyConfig(CollectionValues):
    filter: Condition | None = Field(default=None, description="clauses on the collection's columns")
    max_rows: MaxRows = 100


@register
class UpdateMany(Action):
    name = "update_many"
    config_model = UpdateManyConfig
    summary = "Update every record matching a filter (capped)"

    def run(self, config: UpdateManyConfig, ctx: ActionContext) -> dict[str, Any]:
        ids = ctx.records.update_where(config.collection, config.filter, dict(config.values), config.max_rows)
        return {"updated": len(ids), "ids": ids}
