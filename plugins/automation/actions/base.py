"""What every action is: a pydantic config model and a handler that runs it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict, ValidationInfo, ValidatorFunctionWrapHandler, field_validator

from automation.definitions.base import StrictModel

if TYPE_CHECKING:
    from automation.records.store import RecordStore
    from automation.store.repository import EffectStore

#: Validation context that accepts a template string for any field (definitions are validated
#: before their templates can be rendered; the rendered config is validated again at run time).
ALLOW_TEMPLATES = {"allow_templates": True}


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
    """What a handler gets besides its config. `records` and `effects` open their transaction
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


@dataclass(frozen=True)
class Defer:
    """Returned by an action that waits: the step operator defers until `until` (no worker slot
    held) and then outputs `output`."""

    until: datetime
    output: Any = None


@dataclass(frozen=True)
class TriggerRun:
    """Returned by an action that starts another workflow's DAG run (optionally waiting for it)."""

    dag_id: str
    run_id: str
    conf: dict[str, Any]
    wait: bool = False
    poll_interval: int = 10


class Action:
    """Subclass, set `name` and `config_model`, implement `run`, decorate with `@register`."""

    name: ClassVar[str]
    config_model: ClassVar[type[ActionConfig]]
    #: Reaches outside the machine (email, HTTP): described, not run, in a dry run.
    external: ClassVar[bool] = False
    #: Records its output as an effect: a retry or clear returns it instead of acting again.
    idempotent: ClassVar[bool] = True
    #: One-line description for the catalogue and the dry run.
    summary: ClassVar[str] = ""
    #: Config keys left unrendered at the step level (rendered later, per item, by the action).
    unrendered: ClassVar[frozenset[str]] = frozenset()
    #: Import path of a dedicated operator class (e.g. human approval); default: the step operator.
    operator: ClassVar[str | None] = None
    #: Runs as a list task plus a mapped task (one Airflow task instance per item).
    expands: ClassVar[bool] = False

    def run(self, config: Any, ctx: ActionContext) -> Any:
        raise NotImplementedError

    def describe(self, config: Any) -> str:
        """What a dry run prints for an external action it does not run."""
        return f"would run {self.name}"
