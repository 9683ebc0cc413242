"""Step model: the action to run, its (action-specific) config and its run policy."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from automation.definitions.base import Duration, StrictModel
from automation.definitions.conditions import Condition
from automation.definitions.notices import StepNotifications

StepId = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="lowercase identifier, unique in the workflow")


class Step(StrictModel):
    id: str = StepId
    type: str = Field(min_length=1, description="an action name from the registry, e.g. create_record")
    name: str | None = None
    config: dict[str, Any] = Field(default_factory=dict, description="validated by the action's own model")
    when: Condition | None = None
    retries: int | None = Field(default=None, ge=0, le=20)
    retry_delay: Duration | None = None
    timeout: Duration | None = None
    continue_on_failure: bool = False
    repeat_on_clear: bool = Field(
        default=False, description="a retry or clear runs the action again even if it already delivered"
    )
    depends_on: list[str] | None = None
    notify: StepNotifications | None = Field(
        default=None,
        description="notices when it starts, succeeds, is retried or fails; default: settings.notify_steps",
    )
