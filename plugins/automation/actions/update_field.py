"""update_field: set one field of one record (a shorthand of update_record)."""

from __future__ import annotations

from typing import Any

from automation.actions._records import CollectionConfig, RecordId
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register


class UpdateFieldConfig(CollectionConfig):
    id: RecordId
    field: str
    value: Any = None

    def _columns(self) -> list[str]:
        return [self.field]


@register
class UpdateField(Action[UpdateFieldConfig]):
    name = "update_field"
    config_model = UpdateFieldConfig
    summary = "Set one field of a record"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: UpdateFieldConfig) -> str:
        return f"set {config.collection}.{config.field} = {config.value}"

    def execute(self, config: UpdateFieldConfig, ctx: ActionContext) -> Delivered:
        return Delivered(ctx.records.update(config.collection, config.id, {config.field: config.value}))
