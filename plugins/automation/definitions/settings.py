"""Workflow-level settings: concurrency (pool, queue, run timeout, rate limit, ordering per record),
priority, ownership, retries (with a policy per error class), throttle and retention.

Invariant: every name a setting hands to Airflow (pool, queue) is a bounded identifier-like string, and
every retry figure is bounded, so a definition cannot make a task Airflow refuses or that retries forever."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from automation.definitions.base import DURATION_RE, Duration, PathError, StrictModel
from automation.definitions.notices import StepNotifications

#: a throttle window written in milliseconds: "500ms" (what `window_ms: 500` says)
_MS_TEXT = re.compile(r"^\s*(\d+)\s*ms\s*$")
MAX_WINDOW_MS = 86_400_000


class Throttle(StrictModel):
    """Within `window` (or `window_ms`), later events of the same scope are dropped (throttle) or
    coalesced (debounce). `window: "500ms"` is read as `window_ms: 500`."""

    window: Duration | Annotated[str, Field(pattern=_MS_TEXT.pattern)] | None = Field(
        default=None, description='seconds, or "30s", "5m", or milliseconds as "500ms"; or give window_ms'
    )
    window_ms: int | None = Field(
        default=None, ge=1, le=MAX_WINDOW_MS, description="the window in milliseconds (500: half a second)"
    )
    scope: Literal["entity", "global"] = "entity"
    mode: Literal["throttle", "debounce"] = "throttle"

    @model_validator(mode="before")
    @classmethod
    def _milliseconds_text(cls, data: Any) -> Any:
        """`window: "500ms"` becomes `window_ms: 500` (bounded like it, the error at `window`)."""
        window = data.get("window") if isinstance(data, dict) else None
        if window is None or (isinstance(window, int) and not isinstance(window, bool)):
            return data
        match = _MS_TEXT.match(window) if isinstance(window, str) else None
        if match is None:
            if isinstance(window, str) and DURATION_RE.match(window):
                return data
            raise PathError("window", 'expected seconds as an integer, a string like "30s" or "5m", or "500ms"')
        if data.get("window_ms") is not None:
            raise PathError("window", "give exactly one of window (seconds) or window_ms (milliseconds)")
        milliseconds = int(match.group(1))
        if not 1 <= milliseconds <= MAX_WINDOW_MS:
            raise PathError("window", f"{window!r}: a window is 1 ms to {MAX_WINDOW_MS} ms (one day)")
        return {**{k: v for k, v in data.items() if k != "window"}, "window_ms": milliseconds}

    @model_validator(mode="after")
    def _one_window(self) -> Throttle:
        if (self.window is None) == (self.window_ms is None):
            raise PathError("window", "give exactly one of window (seconds) or window_ms (milliseconds)")
        return self

    @property
    def seconds(self) -> float:
        """The window in seconds (a fraction for `window_ms`)."""
        if self.window_ms is not None:
            return self.window_ms / 1000
        return float(self.window) if isinstance(self.window, int) else 0.0


#: an Airflow pool or Celery/Kubernetes queue name: letters, digits, `_ - .`, at most 100
ROUTING_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"

#: the error classes a retry policy has an entry for (the class is on the exception: automation.errors)
ErrorClass = Literal["network", "timeout", "rate_limited", "server_error", "database"]


class RetryRule(StrictModel):
    """How a step retries one error class; what is left out is the step's (retries, retry_delay)."""

    retries: int | None = Field(default=None, ge=0, le=20, description="retries of this error class")
    delay: Duration | None = Field(default=None, description="the first retry's delay")
    backoff: float = Field(default=2.0, ge=1.0, le=10.0, description="each next delay is this many times longer")
    max_delay: Duration | None = Field(default=None, description="no delay is longer (default: max_retry_delay)")


class RetryPolicy(StrictModel):
    """Retries per error class, on top of the step's: network (connection refused, reset, DNS),
    timeout, rate_limited (HTTP 429; its Retry-After is honoured when longer), server_error (HTTP 5xx),
    database (an operational database error). Client errors (4xx, bad config, a missing record) never
    retry, whatever the policy."""

    network: RetryRule | None = None
    timeout: RetryRule | None = None
    rate_limited: RetryRule | None = None
    server_error: RetryRule | None = None
    database: RetryRule | None = None

    def rules(self) -> dict[str, RetryRule]:
        return {name: rule for name in get_args(ErrorClass) if (rule := getattr(self, name)) is not None}


class RateLimit(StrictModel):
    """At most `max` runs start per `per` (any window that long), per scope; the runs beyond wait for their
    turn (deferred on the triggerer: no worker slot held), none is dropped."""

    max: int = Field(ge=1, le=10_000, description="runs that may start in any window of `per`")
    per: Duration = Field(description='the window: seconds, or "10s", "1m", "1h"')
    scope: Literal["global", "entity"] = Field(
        default="global", description="one limit for the workflow (global) or one per record (entity)"
    )


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
    retry_policy: RetryPolicy | None = Field(
        default=None, description="retries per error class (network, timeout, rate_limited, server_error, database)"
    )
    continue_on_failure: bool = Field(
        default=False, description="every step goes on after a failed step before it (as a step's own flag does)"
    )
    pool: str | None = Field(
        default=None,
        pattern=ROUTING_NAME,
        description="the Airflow pool of every step (one a step's collection limits takes precedence)",
    )
    pool_slots: int = Field(default=1, ge=1, le=1000, description="slots of the pool each step takes")
    queue: str | None = Field(
        default=None, pattern=ROUTING_NAME, description="the Celery/Kubernetes queue of every task of the workflow"
    )
    run_timeout: Duration | None = Field(
        default=None, description="a run still going this long after it started fails (Airflow dagrun_timeout)"
    )
    throttle: Throttle | None = None
    rate_limit: RateLimit | None = Field(
        default=None, description="event runs beyond `max` per `per` wait for their turn (never dropped)"
    )
    ordering: Literal["per_record"] | None = Field(
        default=None,
        description="per_record: the runs of one record start in event order, one at a time (other records "
        "are not held); record-event workflows only",
    )
    ordering_wait: Duration = Field(
        default=600,
        description="with ordering: how long (from the event) a run waits for an earlier event of its record "
        "whose run has not started yet (queued in Airflow); then it goes on without it",
    )
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

    def continues_after_failure(self, step_flag: bool) -> bool:
        """Whether the steps after a step go on when it fails: its own `continue_on_failure`, or the
        workflow's default (`settings.continue_on_failure`)."""
        return step_flag or self.continue_on_failure
