"""add_tag: attach tags to a record (a tag already there is left alone)."""

from __future__ import annotations

from pydantic import Field

from automation.actions._records import CollectionConfig, RecordId, check_collection
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register


class AddTagConfig(CollectionConfig):
    id: RecordId
    tags: list[str] = Field(min_length=1)
    tags_collection: str = Field(default="tags", description="collection with name, entity, entity_id columns")

    def _columns(self) -> list[str]:
        check_collection(self.tags_collection, ["name", "entity", "entity_id"], path="tags_collection")
        return []


@register
class AddTag(Action[AddTagConfig]):
    name = "add_tag"
    config_model = AddTagConfig
    summary = "Tag a record"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: AddTagConfig) -> str:
        return f"tag the {config.collection} record: {', '.join(map(str, config.tags or []))}"

    def execute(self, config: AddTagConfig, ctx: ActionContext) -> Delivered:
        rows = [{"name": tag, "entity": config.collection, "entity_id": config.id} for tag in config.tags]
        added = ctx.records.insert_ignore(config.tags_collection, rows)
        return Delivered({"tags": list(config.tags), "added": added})
