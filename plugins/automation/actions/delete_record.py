"""delete_record: delete one record; outputs what was deleted."""

from __future__ import annotations

from automation.actions._records import CollectionConfig, RecordId
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register


class DeleteRecordConfig(CollectionConfig):
    id: RecordId


@register
class DeleteRecord(Action[DeleteRecordConfig]):
    name = "delete_record"
    config_model = DeleteRecordConfig
    summary = "Delete one record"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: DeleteRecordConfig) -> str:
        return f"delete {config.collection} {config.id}"

    def execute(self, config: DeleteRecordConfig, ctx: ActionContext) -> Delivered:
        return Delivered(ctx.records.delete(config.collection, config.id))
