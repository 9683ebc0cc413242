"""create_record: insert one row into a registered collection; outputs the created record."""

from __future__ import annotations

from automation.actions._records import CollectionValues
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register


class CreateRecordConfig(CollectionValues):
    pass


@register
class CreateRecord(Action[CreateRecordConfig]):
    name = "create_record"
    config_model = CreateRecordConfig
    summary = "Create a record in a collection"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: CreateRecordConfig) -> str:
        return f"create a {config.collection} record"

    def execute(self, config: CreateRecordConfig, ctx: ActionContext) -> Delivered:
        return Delivered(ctx.records.insert(config.collection, dict(config.values)))
