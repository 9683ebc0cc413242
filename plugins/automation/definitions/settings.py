"""Workflow-level settings: concurrency, priority, ownership, throttle and retention."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from automation.definitions.base import Duration, StrictModel
from automation.definitions.notices import StepNotifications


class Throttle(StrictModel):
    """Within `window`, later events of the same scope are dropped (throttle) or coalesced (debounce)."""

    window: Duration
    scope: Literal["entity", "global"] = "entity"
    mode: Literal["throttle", "debounce"] = "throttle"


class Alerts(StrictModel):
    """Failure alerts of a workflow: sent once when it fails `after_failures` runs in a row, and a
    recovery message at its next success; `deadline` raises an Airflow deadline alert for a slow run."""

    after_failures: int = Field(default=3, ge=1, le=1000)
    email: list[str] = Field(default_factory=list, description="recipients; default [automation] alert_emails")
    notify: bool = Field(default=True, description="also a notification (automation.notifications)")
    deadline: Duration | None = Field(default=None, description="a run still going this long after it was queued")


class Settings(StrictModel):
    max_active_runs: int = Field(default=16, ge=1, le=1000)
    priority: int = Field(default=1, ge=1, le=1000, description="Airflow priority_weight of every step")
    tags: list[str] = Field(default_factory=list)
    owner: str = "automation"
    retries: int = Field(default=2, ge=0, le=20, description="default retries of a step")
    retry_delay: Duration = 30
    max_retry_delay: Duration = 3600
    timeout: Duration | None = Field(default=None, description="default execution timeout of a step")
    throttle: Throttle | None = None
    retention_days: int = Field(default=90, ge=1, le=3650)
    alerts: Alerts = Field(default_factory=Alerts)
    max_depth: int = Field(
        default=3, ge=0, le=20, description="events caused by workflows deeper than this are dropped (loops)"
    )
    notify_steps: StepNotifications | None = Field(
        default=None, description="the notification policy of every step without its own `notify`"
    )
    expand: list[str] = Field(
        default_factory=list,
        description="relations of the trigger's entity to load for templates, e.g. owner or organisation.owner",
    )
