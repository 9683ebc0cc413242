"""add_note: log a note or activity on a record's timeline."""

from __future__ import annotations

from pydantic import Field

from automation.actions._records import CollectionConfig, RecordId
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register


class AddNoteConfig(CollectionConfig):
    collection: str = Field(default="activities", description="collection with kind, body, entity, entity_id")
    entity: str
    entity_id: RecordId
    body: str = Field(min_length=1)
    kind: str = "note"
    user_id: RecordId | None = None

    def _columns(self) -> list[str]:
        return ["kind", "body", "entity", "entity_id", *(["user_id"] if self.user_id is not None else [])]


@register
class AddNote(Action[AddNoteConfig]):
    name = "add_note"
    config_model = AddNoteConfig
    summary = "Add a note/activity to a record"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: AddNoteConfig) -> str:
        return f"note on {config.entity}: {config.body}"

    def execute(self, config: AddNoteConfig, ctx: ActionContext) -> Delivered:
        values = {"kind": config.kind, "body": config.body, "entity": config.entity, "entity_id": config.entity_id}
        if config.user_id is not None:
            values["user_id"] = config.user_id
        return Delivered(ctx.records.insert(config.collection, values))
