"""create_record: insert one row into a registered collection; outputs the created record."""

from __future__ import annotations

from typing import Any

from automation.actions._records import CollectionValues
from automation.actions.base import Action, ActionContext
from automation.actions.registry import register


class CreateRecordConfig(CollectionValues):
    pass


@register
class CreateRecord(Action):
    name = "create_record"
    config_model = CreateRecordConfig
    summary = "Create a record in a collection"

    def run(self, config: CreateRecordConfig, ctx: ActionContext) -> dict[str, Any]:
        return ctx.records.insert(config.collection, dict(config.values))
