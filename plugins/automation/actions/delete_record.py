"""delete_record: delete one record; outputs what was deleted."""

from __future__ import annotations

from typing import Any

from automation.actions._records import CollectionConfig, RecordId
from automation.actions.base import Action, ActionContext
from automation.actions.registry import register


class DeleteRecordConfig(CollectionConfig):
    id: RecordId


@register
class DeleteRecord(Action):
    name = "delete_record"
    config_model = DeleteRecordConfig
    summary = "Delete one record"

    def run(self, config: DeleteRecordConfig, ctx: ActionContext) -> dict[str, Any]:
        return ctx.records.delete(config.collection, config.id)
