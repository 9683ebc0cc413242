"""assign_user: set a record's owner to a user, or to the next user of a round-robin rotation.

When `field` is the column of a registered relation (contacts.owner_id -> users), the output also
holds the assigned record (`user`), so later steps can write `{{ steps.assign.output.user.email }}`."""

from __future__ import annotations

from pydantic import Field, model_validator

from automation.actions._records import CollectionConfig, RecordId
from automation.actions.base import Action, ActionContext, Capabilities, Delivered
from automation.actions.registry import register
from automation.definitions.base import PathError


class AssignUserConfig(CollectionConfig):
    id: RecordId
    field: str = "owner_id"
    user_id: RecordId | None = None
    round_robin: list[RecordId] | None = Field(default=None, min_length=1, description="user ids taking turns")
    rotation: str | None = Field(default=None, description="name of the rotation (default: workflow and step)")

    def _columns(self) -> list[str]:
        return [self.field]

    @model_validator(mode="after")
    def _one_way(self) -> AssignUserConfig:
        if (self.user_id is None) == (self.round_robin is None):
            raise PathError("user_id", "give exactly one of user_id or round_robin")
        return self


@register
class AssignUser(Action[AssignUserConfig]):
    name = "assign_user"
    config_model = AssignUserConfig
    summary = "Assign a record to a user (fixed or round robin)"
    capabilities = Capabilities(needs_registry=True)

    def describe(self, config: AssignUserConfig) -> str:
        if config.round_robin:
            return f"assign the {config.collection} record in turn to users {list(config.round_robin)}"
        return f"assign the {config.collection} record to user {config.user_id}"

    def execute(self, config: AssignUserConfig, ctx: ActionContext) -> Delivered:
        user_id = config.user_id
        if config.round_robin is not None:
            rotation = config.rotation or f"{ctx.run.workflow_key}:{ctx.run.task_id}"
            user_id = config.round_robin[ctx.effects.next_round_robin(rotation, len(config.round_robin))]
        records = ctx.records
        record = records.update(config.collection, config.id, {config.field: user_id})
        relations = records.registry.collection(config.collection).relations.values()
        related = next((r.collection for r in relations if r.column == config.field), None)
        user = records.get(related, user_id) if related and user_id is not None else None
        return Delivered({"user_id": user_id, "record": record, "user": user})
