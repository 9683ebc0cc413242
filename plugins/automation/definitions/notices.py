"""Step notification policies: who hears about a step when it succeeds, when an attempt fails and
will be retried, and when it fails for good."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from automation.definitions.base import StrictModel

NoticeKind = Literal["success", "retry", "failure"]
Level = Literal["info", "success", "warning", "error"]

DEFAULT_LEVELS: dict[str, Level] = {"success": "success", "retry": "warning", "failure": "error"}


class StepNotice(StrictModel):
    """One message: a notification in the app and/or an email. Title, body and recipients are
    templates; they also see `step` (id, name, type), `attempt`, `max_attempts` and `error`."""

    email: list[str] = Field(
        default_factory=list, description="recipients, e.g. ops@acme.test or {{ entity.owner.email }}"
    )
    notification: bool = Field(default=True, description="a row in automation.notifications (+ NOTIFY)")
    recipient: str | None = Field(default=None, description="the notification's user; none = everyone")
    level: Level | None = Field(default=None, description="default: success, warning (retry) or error (failure)")
    title: str | None = Field(default=None, max_length=500, description="default: says which step did what")
    body: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> StepNotice:
        if not self.email and not self.notification:
            raise ValueError("a notice needs `email` recipients or `notification: true`")
        return self


class StepNotifications(StrictModel):
    """`on_retry` fires for each failed attempt that Airflow will retry; `on_failure` once the step
    has failed with no retry left; `on_success` when it succeeds. Each is sent at most once per
    step attempt, so a re-run callback or a clear of a delivered step sends nothing twice."""

    on_success: StepNotice | None = None
    on_retry: StepNotice | None = None
    on_failure: StepNotice | None = None

    def notice(self, kind: NoticeKind) -> StepNotice | None:
        return getattr(self, f"on_{kind}")
