"""update_record: set columns of one record of a registered collection; outputs the new record."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from automation.actions._records import CollectionValues
from automation.actions.base import Action, ActionContext
from automation.actions.registry import register


class UpdateRecordConfig(CollectionValues):
    id: int | str = Field(description="primary key of the record, usually {{ trigger.id }}")


@register
class UpdateRecord(Action):
    name = "update_record"
    config_model = UpdateRecordConfig
    touches_records = True

    def run(self, config: UpdateRecordConfig, ctx: ActionContext) -> dict[str, Any]:
        return ctx.records.update(config.collection, config.id, dict(config.values))
