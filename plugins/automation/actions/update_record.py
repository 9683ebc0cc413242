"""update_record: set columns of one record of a registered collection; outputs the new record."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from automation.actions._records import CollectionValues, RecordId
from automation.actions.base import Action, ActionContext
from automation.actions.registry import register


class UpdateRecordConfig(CollectionValues):
    id: RecordId = Field(description="primary key of the record, usually {{ trigger.id }}")


@register
class UpdateRecord(Action):
    name = "update_record"
    config_model = UpdateRecordConfig
    summary = "Update fields of one record"

    def run(self, config: UpdateRecordConfig, ctx: ActionContext) -> dict[str, Any]:
        return ctx.records.update(config.collection, config.id, dict(config.values))
