"""Trigger models, a union discriminated on `type`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pendulum
from croniter import croniter
from pydantic import AfterValidator, Field

from automation.definitions.base import StrictModel
from automation.definitions.conditions import Condition

RecordEventName = Literal["created", "updated", "deleted"]


def _valid_cron(expr: str) -> str:
    if not croniter.is_valid(expr):
        raise ValueError('expected a 5-field cron expression such as "0 9 * * 1-5"')
    return expr


def _valid_timezone(name: str) -> str:
    try:
        pendulum.timezone(name)
    except Exception as exc:
        raise ValueError('expected an IANA timezone name such as "UTC" or "Europe/Paris"') from exc
    return name


Cron = Annotated[str, AfterValidator(_valid_cron)]
TimezoneName = Annotated[str, AfterValidator(_valid_timezone)]
Identifier = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]


RELATIVE = r"^\s*[+-]\s*\d+\s*(minute|hour|day|week|month)s?\s*$"


class FieldOffset(StrictModel):
    """A moment taken from the record: `{field: due_date, offset: "-1 day"}`."""

    field: Identifier
    offset: Annotated[str, Field(pattern=RELATIVE)] = "+0 days"


#: Start the steps later: "+3 days" after the event, or at a field of the record plus an offset.
Delay = Annotated[str, Field(pattern=RELATIVE)] | FieldOffset


class RecordEventTrigger(StrictModel):
    """Fires on created/updated/deleted events of one entity; `fields` narrows updates."""

    type: Literal["record_event"]
    entity: Identifier
    events: list[RecordEventName] = Field(min_length=1)
    fields: list[Identifier] | None = Field(
        default=None, description="fire on updates only when one of these fields changed"
    )
    delay: Delay | None = Field(default=None, description='"+3 days", or {field: due_date, offset: "-1 day"}')


class ScheduleTrigger(StrictModel):
    type: Literal["schedule"]
    cron: Cron
    timezone: TimezoneName = "UTC"
    catchup: bool = False


class InactivityTrigger(StrictModel):
    """Scans `entity` on `scan_cron` for records whose `activity_field` is older than `days`."""

    type: Literal["inactivity"]
    entity: Identifier
    days: int = Field(ge=1, le=3650)
    activity_field: Identifier = "updated_at"
    scan_cron: Cron = "0 6 * * *"
    timezone: TimezoneName = "UTC"
    filter: Condition | None = Field(default=None, description="only records matching this (columns of entity)")
    max_records: int = Field(default=1000, ge=1, le=100_000, description="runs started by one scan at most")


class WebhookTrigger(StrictModel):
    type: Literal["webhook"]
    secret_conn_id: str | None = Field(
        default=None, description="Airflow connection holding the HMAC secret (password field)"
    )


InputType = Literal["string", "integer", "number", "boolean", "array", "object"]


class ManualInput(StrictModel):
    """One input of a manual trigger; becomes an Airflow Param in the trigger form."""

    type: InputType = "string"
    default: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    required: bool = False
    title: str | None = None


class ManualTrigger(StrictModel):
    type: Literal["manual"]
    inputs: dict[Identifier, ManualInput] = Field(default_factory=dict)


Trigger = Annotated[
    RecordEventTrigger | ScheduleTrigger | InactivityTrigger | WebhookTrigger | ManualTrigger,
    Field(discriminator="type"),
]
TRIGGER_TYPES = frozenset({"record_event", "schedule", "inactivity", "webhook", "manual"})

#: Triggers whose runs come from ledger events (partition key = event id): they get the event gate.
EVENT_TRIGGERS = frozenset({"record_event", "webhook", "inactivity"})
SCAN_SUFFIX = "__scan"


def inactivity_event(key: str) -> str:
    """The event name an inactivity scan stores, one asset per workflow."""
    return f"inactive.{key}"
