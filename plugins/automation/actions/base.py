"""The step contract: what every action is, in one place.

An action is `Action[ConfigT]`: its config model (`config_model`), what it touches (`capabilities`),
how it becomes Airflow tasks (`build_tasks`), how it runs (`execute`, returning one `Outcome`) and how
it is told to a person (`describe`, the one summary used by the catalogue, `doc_md`, the pages and the
dry run). Nothing outside this contract interprets an action: the factory calls `build_tasks`, the
executor calls `execute` and hands its `Outcome` to the operator, readers call `describe_step`.

Invariant: this module imports no Airflow and no runtime module (actions sit below the runtime); the
tasks an action builds come from the `TaskKit` the factory passes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import ConfigDict, ValidationInfo, ValidatorFunctionWrapHandler, field_validator

from automation.definitions.base import StrictModel

if TYPE_CHECKING:
    from automation.definitions import Step
    from automation.records.store import RecordStore
    from automation.store.repository import EffectStore

#: Validation context that accepts a template string for any field (definitions are validated
#: before their templates can be rendered; the rendered config is validated again at run time).
ALLOW_TEMPLATES = {"allow_templates": True}
#: The longest summary `describe_step` returns (longer ones end with an ellipsis).
MAX_SUMMARY = 140

log = logging.getLogger(__name__)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class ActionConfig(StrictModel):
    #: defer_build: a worker parsing one DAG builds only the configs of that workflow's actions
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @field_validator("*", mode="wrap")
    @classmethod
    def _templates_pass_until_rendered(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        if info.context and info.context.get("allow_templates") and is_template(value):
            return value
        return handler(value)


ConfigT = TypeVar("ConfigT", bound=ActionConfig)


@dataclass
class RunInfo:
    """Where a step runs: the Airflow identifiers its effects are keyed by."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 1
    workflow_key: str = ""
    workflow_version: int = 0


@dataclass
class ActionContext:
    """What `execute` gets besides its config. `records` and `effects` open their transaction
    on first use; with one database for both, they share it (a record change and its effect
    record commit together)."""

    run: RunInfo
    template_context: dict[str, Any]
    records_factory: Callable[[], RecordStore]
    effects_factory: Callable[[], EffectStore]
    dry_run: bool = False
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("automation.actions"))

    @property
    def records(self) -> RecordStore:
        return self.records_factory()

    @property
    def effects(self) -> EffectStore:
        return self.effects_factory()


# -- what `execute` returns: one of these ----------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """The step did its work; `output` is what later steps see as `steps.<id>.output`."""

    output: Any = None


@dataclass(frozen=True)
class Deferred:
    """The step waits until `until` (deferred: no worker slot held), then outputs `output`."""

    until: datetime
    output: Any = None


@dataclass(frozen=True)
class ChildRunStarted:
    """The step starts another workflow's DAG run (`wait`: until it finishes; its failure fails the step)."""

    dag_id: str
    run_id: str
    conf: dict[str, Any]
    wait: bool = False
    poll_interval: int = 10


@dataclass(frozen=True)
class ApprovalAsked:
    """The step asks a person (Airflow's human-in-the-loop); the answer becomes the output."""

    subject: str
    body: str | None = None
    timeout: int | None = None
    on_timeout: str | None = None
    assigned_users: tuple[str, ...] = ()
    fail_on_reject: bool = False


@dataclass(frozen=True)
class Skipped:
    """The step decided not to act; later steps are skipped as for a false `when`."""

    reason: str


Outcome = Delivered | Deferred | ChildRunStarted | ApprovalAsked | Skipped


# -- what an action touches and how it becomes tasks -----------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    #: Reaches outside the machine (email, HTTP, a person): described, not performed, in a dry run
    #: (unless the dry run is given a mock output for the step).
    external: bool = False
    #: Records its output as an effect: a retry or clear returns it instead of acting again.
    idempotent: bool = True
    #: Reads or writes records of the registry (its config names registered collections).
    needs_registry: bool = False
    #: Config keys left unrendered at the step level (rendered later, per item, by the action).
    unrendered: frozenset[str] = frozenset()
    #: May be the inner action of for_each (one Airflow task instance per item).
    per_item: bool = True


class TaskKit(Protocol):
    """The Airflow tasks the factory can make for one step (`automation.factory.build`)."""

    def step(self) -> Any:
        """The step's task: runs `execute` and acts on its `Outcome` (defers, starts a child run...)."""

    def each(self, items: Any) -> Any:
        """A mapped task after `items` (a task whose output is a list): one instance per item."""

    def approval(self) -> Any:
        """Airflow's human-in-the-loop task, fed by `execute`'s `ApprovalAsked`."""


class Action(Generic[ConfigT]):
    """Subclass, set `name`, `config_model` and `summary`, implement `execute` and `describe`,
    decorate with `@register` (or publish it in the `airflow_automations.actions` entry-point group)."""

    name: ClassVar[str]
    config_model: type[ConfigT]
    #: One line for the reference page: what the action does in general.
    summary: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()

    @property
    def unrendered(self) -> frozenset[str]:
        return self.capabilities.unrendered

    @property
    def external(self) -> bool:
        return self.capabilities.external

    @property
    def idempotent(self) -> bool:
        return self.capabilities.idempotent

    @property
    def expands(self) -> bool:
        """Runs as a list task plus a mapped task, one instance per item (it defines `per_item_step`)."""
        return type(self).per_item_step is not Action.per_item_step

    def build_tasks(self, kit: TaskKit) -> tuple[Any, Any]:
        """The first and last Airflow task of the step (default: one task running `execute`). Only calls
        the kit's methods and returns two of their results: the factory records the calls into the
        workflow's plan (automation.factory.plan) and replays them."""
        task = kit.step()
        return task, task

    def execute(self, config: ConfigT, ctx: ActionContext) -> Outcome:
        """Do the step's work with its rendered, validated config."""
        return Skipped(f"the action {self.name!r} does nothing (it defines no execute)")

    def describe(self, config: ConfigT) -> str:
        """What this step does, for a person (starts with a verb: a dry run prefixes "would ")."""
        return self.summary[:1].lower() + self.summary[1:] if self.summary else self.name

    def refusal(self, config: ConfigT, ctx: ActionContext) -> str | None:
        """Why the real step would be refused here (a host off the allow-list, a missing target), or None;
        a dry run asks it before `describe`-ing or running the step."""
        return None

    def per_item_step(self, step: Step) -> Step | None:
        """The step each item runs, for an action whose output is a list of items (for_each); else None."""
        return None


def _loose_config(action: Action[Any], config: dict[str, Any], validate: bool) -> Any:
    """The config as a model for `describe`: validated (templates allowed) when it is valid, else (or
    without `validate`) its raw values on the model (a catalogue template's placeholder, a config with
    errors, a definition validated already)."""
    if validate:
        try:
            return action.config_model.model_validate(config, context=ALLOW_TEMPLATES)
        except Exception:
            pass
    names = _field_names(action.config_model)
    return action.config_model.model_construct(**{k: v for k, v in config.items() if k in names})


_FIELD_NAMES: dict[type[ActionConfig], frozenset[str]] = {}


def _field_names(model: type[ActionConfig]) -> frozenset[str]:
    """The keys `model_construct` takes (names and aliases); cached: a parse describes every step."""
    names = _FIELD_NAMES.get(model)
    if names is None:
        fields = model.model_fields
        names = _FIELD_NAMES[model] = frozenset(fields) | {f.alias for f in fields.values() if f.alias}
    return names


def describe_config(action: Action[Any], config: dict[str, Any], *, validate: bool = True) -> str:
    """`action.describe` of a config that may hold unrendered text; never raises."""
    try:
        return str(action.describe(_loose_config(action, config, validate)))
    except Exception:
        log.debug("describe of %s failed; using its summary", action.name, exc_info=True)
        return Action.describe(action, None)


def describe_step(step: dict[str, Any], *, validated: bool = False) -> str:
    """One line saying what a step (a definition's step as a dict) does: its `name` when it has one,
    else its action's `describe`; never raises, even for unknown actions or unrendered configs.
    `validated`: the definition was validated already (the factory): the config is not validated again."""
    try:
        name = step.get("name")
        if name:
            text = str(name)
        else:
            kind = str(step.get("type") or "?")
            config = step.get("config")
            action = _registry().get_action(kind)
            values = config if isinstance(config, dict) else {}
            text = kind if action is None else describe_config(action, values, validate=not validated)
    except Exception:
        text = str(step.get("type") if isinstance(step, dict) else "?")
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


@cache
def _registry() -> Any:
    """automation.actions.registry (imported on first use: it imports this module)."""
    import automation.actions.registry as registry

    return registry


def duration_text(seconds: int | str | None) -> str:
    """`259200` -> "3d", `90` -> "90s"; text (a template) as written."""
    if not isinstance(seconds, int):
        return str(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
