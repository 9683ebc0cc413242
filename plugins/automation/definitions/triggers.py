"""Trigger models, a union discriminated on `type`, and the template names each one gives its steps.

Invariant: `template_names(trigger, expand)` lists exactly the names (and the members known in advance)
that the run puts in a step's template context and condition data for that trigger
(runtime/context.template_context, condition_data); the static template check (templating/names.py,
through validation.py) accepts nothing else. `record_names` is the one rule for the record's other
names (`deal`, an `alias`, an expanded `organisation`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

import pendulum
from croniter import croniter
from pydantic import AfterValidator, Discriminator, Field, Tag, field_validator

from automation.definitions.base import StrictModel
from automation.definitions.conditions import Condition
from automation.definitions.webhooks import AutomationVerification, WebhookVerification
from automation.net.credentials import literal_secret_names

#: Bounds of a record_event trigger: entities in its list and event names (one asset per pair).
MAX_ENTITIES = 20
MAX_EVENTS = 20


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
#: A record event's name: a plain identifier, so `automation://<entity>/<event>` stays a valid URI.
EventName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]


RELATIVE = r"^\s*[+-]\s*\d+\s*(minute|hour|day|week|month)s?\s*$"


class FieldOffset(StrictModel):
    """A moment taken from the record: `{field: due_date, offset: "-1 day"}`."""

    field: Identifier
    offset: Annotated[str, Field(pattern=RELATIVE)] = "+0 days"


#: One entity or a list of them; tagged by the value's shape so an error names only that shape
#: (definitions/issues.py drops the tags from paths).
ENTITY_TAGS = ("one_entity", "entity_list")
Entities = Annotated[
    Annotated[Identifier, Tag("one_entity")]
    | Annotated[list[Identifier], Field(min_length=1, max_length=MAX_ENTITIES), Tag("entity_list")],
    Discriminator(lambda value: "entity_list" if isinstance(value, list) else "one_entity"),
]

#: Start the steps later: "+3 days" after the event, or at a field of the record plus an offset.
Delay = Annotated[str, Field(pattern=RELATIVE)] | FieldOffset


class RecordEventTrigger(StrictModel):
    """Fires on events of one entity or several (`entity: [orders, invoices]`): created, updated,
    deleted or any custom event name (`published`, `component_added`); `fields` narrows updates.
    Each (entity, event) pair is one Airflow asset (`automation://<entity>/<event>`)."""

    type: Literal["record_event"]
    #: the record after (`new`, also `entity`) and before (`old`) the change; its singular name
    #: (`deal`) and expanded relations are added by `record_names`
    context_names: ClassVar[tuple[str, ...]] = ("entity", "new", "old")
    entity: Entities = Field(description="the collection whose events fire the workflow, or a list of them")
    events: list[EventName] = Field(
        min_length=1,
        max_length=MAX_EVENTS,
        description="created, updated, deleted or custom event names (lowercase letters, digits, _)",
    )
    fields: list[Identifier] | None = Field(
        default=None, description="fire on updates only when one of these fields changed"
    )
    delay: Delay | None = Field(default=None, description='"+3 days", or {field: due_date, offset: "-1 day"}')
    alias: Identifier | None = Field(
        default=None,
        description="the name the trigger's record also has in conditions and templates "
        "(default: the entity's singular, `deals` -> `deal`; none for a list of entities)",
    )

    @field_validator("alias")
    @classmethod
    def _alias_is_free(cls, alias: str | None) -> str | None:
        if alias in RESERVED_NAMES:
            raise ValueError(f"{alias!r} is a name every run already has; choose another (e.g. the singular)")
        return alias

    @property
    def entities(self) -> list[str]:
        """The entities whose events fire the workflow, in the order given, each once."""
        return list(dict.fromkeys([self.entity] if isinstance(self.entity, str) else self.entity))


class ScheduleTrigger(StrictModel):
    type: Literal["schedule"]
    #: no record: `run.logical_date` and `run.data_interval_start/end` say which slot runs
    context_names: ClassVar[tuple[str, ...]] = ()
    cron: Cron
    timezone: TimezoneName = "UTC"
    catchup: bool = False


class InactivityTrigger(StrictModel):
    """Scans `entity` on `scan_cron` for records whose `activity_field` is older than `days`."""

    type: Literal["inactivity"]
    #: the inactive record (`new`, also `entity`); there is no previous state
    context_names: ClassVar[tuple[str, ...]] = ("entity", "new")
    entity: Identifier
    days: int = Field(ge=1, le=3650)
    activity_field: Identifier = "updated_at"
    scan_cron: Cron = "0 6 * * *"
    timezone: TimezoneName = "UTC"
    filter: Condition | None = Field(default=None, description="only records matching this (columns of entity)")
    max_records: int = Field(default=1000, ge=1, le=100_000, description="runs started by one scan at most")


class WebhookTrigger(StrictModel):
    """Fires on each verified `POST /automation/webhooks/<workflow key>` (no Airflow login), one run per
    delivery. `verification` says how a delivery is verified (the provider's signature scheme); the
    secret is the password of the Airflow connection `secret_conn_id`. Steps see `trigger.body` (the
    JSON object, or a form's fields), `trigger.headers` (lowercase names; auth and signature headers
    removed) and `trigger.query`."""

    type: Literal["webhook"]
    #: the posted body (`trigger.body`, also `new` and `entity`)
    context_names: ClassVar[tuple[str, ...]] = ("entity", "new")
    #: `trigger.*` members besides the event's: the delivery's body, headers and query parameters
    trigger_fields: ClassVar[tuple[str, ...]] = ("body", "headers", "query")
    secret_conn_id: str | None = Field(
        default=None,
        max_length=250,
        description="Airflow connection whose password is the secret "
        "(default: automation_webhook_<workflow key, - as _>)",
    )
    verification: WebhookVerification = Field(
        default_factory=lambda: AutomationVerification(scheme="automation"),
        description="how deliveries are verified: scheme automation (default), github, stripe, slack, "
        "hmac_header or token, with that scheme's options",
    )


#: A path into a JSON document: names and list indexes joined by dots (`data.items`, `results.0.id`,
#: `meta.next-cursor`); "" is the document itself. No wildcards, filters or recursion.
JSON_PATH = re.compile(r"^[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100}){0,15}$")


def _valid_json_path(path: str) -> str:
    if path and not JSON_PATH.match(path):
        raise ValueError(
            'expected names or list indexes joined by dots, such as data.items or results.0.id ("" for the '
            "whole document; letters, digits, _ and - in a name, at most 16 parts)"
        )
    return path


JsonPath = Annotated[str, AfterValidator(_valid_json_path)]
#: The ledger entity of polled items; the event is the workflow key (asset `automation://poll/<key>`).
POLL_ENTITY = "poll"
#: Bounds of a poll trigger: items taken from one response, literal query parameters.
MAX_POLL_ITEMS = 10_000
MAX_POLL_PARAMS = 20


def _valid_conn_id(conn_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,250}", conn_id):
        raise ValueError("an Airflow connection id: letters, digits, _ . and -, at most 250 (not a template)")
    return conn_id


ConnId = Annotated[str, AfterValidator(_valid_conn_id)]


class PollCursor(StrictModel):
    """Where the next poll starts: the greatest value of an item field seen so far, sent back as a
    query parameter (`?since=<greatest updated_at>`)."""

    field: JsonPath = Field(min_length=1, description="the item field (a JSON path in it) whose greatest value is kept")
    param: str = Field(pattern=r"^[A-Za-z0-9_.\[\]-]{1,100}$", description="the query parameter it is sent as")


class PollTrigger(StrictModel):
    """Polls an HTTP API on `cron`: a GET of `path` on the Airflow HTTP connection `conn_id` (its base
    URL and auth; the host must pass the egress allow-list), the items at `items_path` in the JSON
    response, each identified by `id_field`. Each item not seen before becomes one event (idempotency
    key: workflow key + item id), so an item runs the steps once, across restarts and overlapping
    polls. Steps see the item as `trigger.item` (also `new` and `entity`) and its id as `trigger.id`."""

    type: Literal["poll"]
    #: the item (`trigger.item`, also `new` and `entity`); there is no previous state
    context_names: ClassVar[tuple[str, ...]] = ("entity", "new")
    #: `trigger.*` members besides the event's: the polled item
    trigger_fields: ClassVar[tuple[str, ...]] = ("item",)
    conn_id: ConnId = Field(
        description="Airflow HTTP connection: base URL (host, schema, port) and auth (login/password, "
        "bearer token as password, headers in extra)",
    )
    path: str = Field(default="", max_length=2000, description="appended to the connection's base URL")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, max_length=MAX_POLL_PARAMS, description="query parameters sent with every poll"
    )
    items_path: JsonPath = Field(
        default="",
        description='where the list of items is in the response: a dotted path such as data.items ("": the body)',
    )
    id_field: JsonPath = Field(
        default="id",
        min_length=1,
        description="the item field that identifies it (a dotted path: id, meta.id): text or an integer",
    )
    cursor: PollCursor | None = Field(default=None, description="optional: resume after the greatest value seen")
    cron: Cron = Field(default="*/5 * * * *", description="when to poll")
    timezone: TimezoneName = "UTC"
    timeout: float = Field(default=30, gt=0, le=300, description="seconds for the request")
    max_items: int = Field(
        default=1000, ge=1, le=MAX_POLL_ITEMS, description="items taken from one response at most (the rest wait)"
    )

    @field_validator("path")
    @classmethod
    def _relative_path(cls, path: str) -> str:
        if "://" in path or path.startswith("//"):
            raise ValueError("a path on the connection's host (its base URL is the connection's), not a URL")
        if any(c in path for c in "\r\n\t #"):
            raise ValueError("no spaces, line breaks or # in the path")
        return path

    @field_validator("params")
    @classmethod
    def _no_written_out_credentials(cls, params: dict[str, Any]) -> dict[str, Any]:
        if names := literal_secret_names(params, headers=False):
            raise ValueError(
                f"the query parameter {names[0]!r} holds a credential; put it in the Airflow connection "
                "(login/password, a bearer token as password, or a header in extra)"
            )
        return params


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
    #: its inputs are `params.<input>` (every trigger has `params`; only this one declares them)
    context_names: ClassVar[tuple[str, ...]] = ()
    inputs: dict[Identifier, ManualInput] = Field(default_factory=dict)


Trigger = Annotated[
    RecordEventTrigger | ScheduleTrigger | InactivityTrigger | WebhookTrigger | PollTrigger | ManualTrigger,
    Field(discriminator="type"),
]
TRIGGER_TYPES = frozenset({"record_event", "schedule", "inactivity", "webhook", "poll", "manual"})

#: Triggers whose runs come from ledger events (partition key = event id): they get the event gate.
EVENT_TRIGGERS = frozenset({"record_event", "webhook", "inactivity", "poll"})
SCAN_SUFFIX = "__scan"


def describe_trigger(trigger: dict[str, Any]) -> str:
    """One line saying when a trigger (a definition's trigger as a dict, possibly with unrendered
    placeholders) fires: "deals updated (stage)", "schedule 0 8 * * 1 (UTC)"; never raises."""
    kind = trigger.get("type", "?")
    if kind == "record_event":
        entity = trigger.get("entity")
        entities = ", ".join(map(str, entity)) if isinstance(entity, list) else entity
        text = f"{entities} {'/'.join(map(str, trigger.get('events') or []))}"
        fields = trigger.get("fields")
        text += f" ({', '.join(map(str, fields))})" if fields and isinstance(fields, list) else ""
        return text + (f", {trigger['delay']} later" if isinstance(trigger.get("delay"), str) else "")
    if kind == "schedule":
        return f"schedule {trigger.get('cron')} ({trigger.get('timezone', 'UTC')})"
    if kind == "inactivity":
        return f"{trigger.get('entity')} with no activity for {trigger.get('days')} days"
    if kind == "poll":
        return f"poll {trigger.get('conn_id')} {trigger.get('path') or '/'} ({trigger.get('cron', '*/5 * * * *')})"
    if kind == "manual":
        inputs = trigger.get("inputs") or {}
        return f"manual ({', '.join(map(str, inputs))})" if inputs else "manual"
    return str(kind)


def inactivity_event(key: str) -> str:
    """The event name an inactivity scan stores, one asset per workflow."""
    return f"inactive.{key}"


# -- template names ----------------------------------------------------------------------------------

#: A name's known members: a mapping (member -> its own members) or None (any member, not known
#: in advance: a record's columns, an HTTP body, a datetime's methods).
TemplateNames: TypeAlias = Mapping[str, "TemplateNames | None"]

#: `run` as runtime/context.run_info builds it.
RUN_FIELDS = ("id", "dag_id", "logical_date", "data_interval_start", "data_interval_end")
#: `workflow` as runtime/context.template_context builds it.
WORKFLOW_FIELDS = ("key", "name", "version")
#: `trigger` of a run started by a ledger event: store/ledger.event_payload plus `type`.
EVENT_FIELDS = ("type", "event_id", "entity", "id", "event", "new", "old", "actor", "origin", "depth", "received_at")
#: Names every step sees whatever the trigger, besides `trigger` and `steps`.
RUN_NAMES: dict[str, TemplateNames | None] = {
    "run": dict.fromkeys(RUN_FIELDS),
    "workflow": dict.fromkeys(WORKFLOW_FIELDS),
    "now": None,
}


def _trigger_fields(trigger: Any) -> TemplateNames | None:
    """`trigger.*` known in advance for event-started runs; None (unchecked) otherwise: a schedule or
    manual run's `trigger` is the conf it was started with."""
    if trigger.type not in EVENT_TRIGGERS:
        return None
    fields: dict[str, TemplateNames | None] = dict.fromkeys(EVENT_FIELDS)
    fields.update(dict.fromkeys(getattr(trigger, "trigger_fields", ())))
    return fields


def template_names(trigger: Any, expand: Sequence[str] = ()) -> dict[str, TemplateNames | None]:
    """The names the trigger and the run give every step's templates and conditions (not `steps`,
    which depends on the step): `trigger`, the trigger type's own names (`ClassVar context_names`),
    `params`, `run`, `workflow`, `now`, then the record's own names (`record_names`: `deal`, an
    expanded `organisation`). `params` lists a manual trigger's declared inputs; a trigger that declares
    none leaves it open: Airflow adds the conf a run was started with (trigger_workflow's `conf`,
    "Trigger DAG w/ config") to the params, so any name may be there."""
    names: dict[str, TemplateNames | None] = {"trigger": _trigger_fields(trigger)}
    names.update(dict.fromkeys(trigger.context_names))
    inputs = getattr(trigger, "inputs", None) or {}
    names["params"] = dict.fromkeys(inputs) if inputs else None
    return {**names, **RUN_NAMES, **dict.fromkeys(record_names(trigger, expand))}


#: Names every run gives, whatever the trigger: an alias or an expanded relation never hides them.
RESERVED_NAMES = frozenset({"trigger", "entity", "new", "old", "params", "steps", *RUN_NAMES})


def singular(entity: str) -> str:
    """The singular of a collection's name, by one rule: `-ies` -> `-y` (`companies` -> `company`),
    a final `-ss` stays (`address`), else one final `s` goes (`deals` -> `deal`, `organisations` ->
    `organisation`). A name the rule gets wrong is set with the trigger's `alias`."""
    if entity.endswith("ies") and len(entity) > 3:
        return entity[:-3] + "y"
    if entity.endswith("s") and not entity.endswith("ss") and len(entity) > 1:
        return entity[:-1]
    return entity


def record_names(trigger: Any, expand: Sequence[str] = ()) -> dict[str, str | None]:
    """The one rule for the other names the trigger's record has, in conditions, `when`, templates
    and the static check alike: name -> None for the record itself (as `new`; `old` for `changed`),
    or the relation whose expanded record it is (`new.<relation>`).

    - one entity (`deals`): its own name and its singular (`deals`, `deal`), or the explicit `alias`;
    - a list of entities: only the explicit `alias` (none without it);
    - each relation `settings.expand` loads (the first member of each path: `organisation` for
      `organisation.owner`) at the top level too.

    A name every run already gives (`RESERVED_NAMES`) is never taken; the record's names win over a
    relation's. Triggers without a record (schedule, manual, webhook, poll) have none."""
    entity = getattr(trigger, "entity", None)
    alias = getattr(trigger, "alias", None)
    if not entity:
        return {}
    if alias:
        own = [alias]
    elif isinstance(entity, str):
        own = [entity, singular(entity)]
    else:
        own = []
    names: dict[str, str | None] = dict.fromkeys((n for n in own if n not in RESERVED_NAMES), None)
    for path in expand:
        relation = path.split(".")[0]
        if relation and relation not in RESERVED_NAMES and relation not in names:
            names[relation] = relation
    return names


def condition_names(trigger: Any, expand: Sequence[str] = ()) -> dict[str, TemplateNames | None]:
    """What the first segment of a condition's `field` may be: the same names as templates
    (`template_names`, which includes `record_names`), as runtime/context.condition_data binds them."""
    return template_names(trigger, expand)
