"""What the events API accepts: every field bounded (a longer `actor` or key is a 422 with its
path; the body as a whole is bounded by api.limits). A record event's name (`created`, `published`,
`component_added`) is a plain identifier, as a record_event trigger names it; only the webhook
entity's events, named by a workflow key, may have `-` or start with a digit."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import Field, TypeAdapter, ValidationInfo, field_validator

from automation.definitions.base import StrictModel

EVENT_NAME = r"^[a-z0-9_][a-z0-9_.-]{0,62}$"  # a webhook's events are named by its key, which may start with a digit
#: A record event's name: what a record_event trigger's `events` may list (definitions.triggers.EventName).
RECORD_EVENT_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MAX_BATCH = 500
MAX_ACTOR = 200


class Origin(StrictModel):
    workflow: str | None = None
    depth: int = Field(default=0, ge=0, le=100)


class EventIn(StrictModel):
    entity: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="e.g. deals")
    event: str = Field(pattern=EVENT_NAME, description="created, updated, deleted or a custom name")
    id: str | int | None = Field(default=None, description="the record's id")
    new: dict[str, Any] | None = None
    old: dict[str, Any] | None = None
    actor: str | None = Field(default=None, max_length=MAX_ACTOR)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200,
                                        description="a re-sent event with the same key is stored once")  # fmt: skip
    origin: Origin | None = None

    @field_validator("event")
    @classmethod
    def _record_event_name(cls, event: str, info: ValidationInfo) -> str:
        if info.data.get("entity") != "webhook" and not RECORD_EVENT_NAME.match(event):
            raise ValueError(
                "a record event's name is lowercase letters, digits and _ (not first), "
                "at most 63 characters, such as created or component_added"
            )
        return event

    def ledger_row(self, source: str) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key or f"auto:{uuid.uuid4()}",
            "entity": self.entity,
            "entity_id": None if self.id is None else str(self.id),
            "event": self.event,
            "new_data": self.new,
            "old_data": self.old,
            "actor": self.actor,
            "origin_workflow": self.origin.workflow if self.origin else None,
            "depth": self.origin.depth if self.origin else 0,
            "source": source,
        }


class EventBatch(StrictModel):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class IngestResult(StrictModel):
    id: int
    created: bool


_RESULTS = TypeAdapter(list[IngestResult])


def results_json(results: list[IngestResult]) -> bytes:
    return _RESULTS.dump_json(results)
