"""update_record: set columns of one record of a registered collection; outputs the new record."""

from __future__ import annotations

from pydantic import Field

from automation.actions._records import CollectionValues, RecordId
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register


class UpdateRecordConfig(CollectionValues):
    id: RecordId = Field(description="primary key of the record, usually {{ trigger.id }}")


@register
class UpdateRecord(Action[UpdateRecordConfig]):
    name = "update_record"
    config_model = UpdateRecordConfig
    summary = "Update fields of one record"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: UpdateRecordConfig) -> str:
        return f"update {config.collection}: {', '.join(config.values or {})}"

    def execute(self, config: UpdateRecordConfig, ctx: ActionContext) -> Delivered:
        return Delivered(ctx.records.update(config.collection, config.id, dict(config.values)))
