"""wait: pause the run for a delay or until a date, deferred (no worker slot is held)."""

from __future__ import annotations

import pendulum
from pydantic import Field, model_validator

from automation.actions.base import (
    Action,
    ActionConfig,
    ActionContext,
    Capabilities,
    Deferred,
    Delivered,
    duration_text,
)
from automation.actions.registry import register
from automation.definitions.base import Duration, PathError
from automation.errors import PermanentActionError
from automation.templating.sandbox import relative_datetime


class WaitConfig(ActionConfig):
    delay: Duration | None = Field(default=None, description='"30s", "3d" or seconds')
    until: str | None = Field(default=None, description='an ISO datetime, or "+3 days" relative to now')

    @model_validator(mode="after")
    def _one_of(self) -> WaitConfig:
        if (self.delay is None) == (self.until is None):
            raise PathError("delay", "give exactly one of delay or until")
        return self


def wait_until(config: WaitConfig) -> pendulum.DateTime:
    if config.delay is not None:
        return pendulum.now("UTC").add(seconds=int(config.delay))
    assert config.until is not None
    moment = relative_datetime(config.until)
    if moment is None:
        try:
            parsed = pendulum.parse(config.until)
        except Exception:
            parsed = None
        if not isinstance(parsed, pendulum.DateTime):
            raise PermanentActionError(f"until: expected an ISO datetime or '+N days', got {config.until!r}")
        moment = parsed
    return moment.in_timezone("UTC")


@register
class Wait(Action[WaitConfig]):
    name = "wait"
    config_model = WaitConfig
    summary = "Wait for a delay or until a date (deferred)"
    capabilities = Capabilities(idempotent=False)

    def describe(self, config: WaitConfig) -> str:
        moment = duration_text(config.delay) if config.delay is not None else config.until
        return f"wait {moment}" if moment else "wait"

    def execute(self, config: WaitConfig, ctx: ActionContext) -> Deferred | Delivered:
        until = wait_until(config)
        if until <= pendulum.now("UTC"):
            return Delivered({"waited_until": until.isoformat(), "waited": False})
        return Deferred(until=until, output={"waited_until": until.isoformat(), "waited": True})
