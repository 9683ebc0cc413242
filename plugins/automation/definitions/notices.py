"""Step notification policies: who hears about a step when it starts, when it succeeds, when an attempt
fails and will be retried, and when it fails for good; and the channels a message can go to (one
spelling, `kind` or `kind:connection`, for notices and send_notification steps)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from automation.definitions.base import StrictModel

NoticeKind = Literal["start", "success", "retry", "failure"]
Level = Literal["info", "success", "warning", "error"]

DEFAULT_LEVELS: dict[str, Level] = {"start": "info", "success": "success", "retry": "warning", "failure": "error"}

#: Channels: `in_app` (automation.notifications + NOTIFY), `email` (the SMTP connection), and Airflow's
#: notifier providers through an Airflow connection: `apprise[:conn_id]`, `slack[:conn_id]` (an incoming
#: webhook). Without a connection id, the provider's default connection.
CHANNEL_PATTERN = r"^(in_app|email|apprise|slack)(:[A-Za-z_][A-Za-z0-9_.-]{0,199})?$"
DEFAULT_CONNECTIONS = {"email": "smtp_default", "apprise": "apprise_default", "slack": "slack_default"}
Channel = Annotated[
    str, Field(pattern=CHANNEL_PATTERN, description="in_app, email, apprise[:conn_id], slack[:conn_id]")
]
#: A named template: include/templates/notifications/<name>.yaml
TEMPLATE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def split_channel(channel: str) -> tuple[str, str | None]:
    """(kind, Airflow connection id): None for in_app, else the given or the provider's default."""
    kind, _, conn_id = channel.partition(":")
    return kind, (conn_id or DEFAULT_CONNECTIONS.get(kind))


class StepNotice(StrictModel):
    """One message: a notification in the app and/or an email. Title, body and recipients are
    templates; they also see `step` (id, name, type), `attempt`, `max_attempts` and `error`."""

    email: list[str] = Field(
        default_factory=list, description="recipients, e.g. ops@acme.test or {{ entity.owner.email }}"
    )
    notification: bool = Field(default=True, description="a row in automation.notifications (+ NOTIFY)")
    recipient: str | None = Field(default=None, description="the notification's user; none = everyone")
    level: Level | None = Field(default=None, description="default: success, warning (retry) or error (failure)")
    channels: list[Channel] = Field(
        default_factory=list, max_length=10, description="more channels: apprise[:conn_id], slack[:conn_id]"
    )
    template: str | None = Field(
        default=None,
        pattern=TEMPLATE_NAME_PATTERN,
        description="a named template (include/templates/notifications/<name>.yaml): its title and body per channel",
    )
    title: str | None = Field(default=None, max_length=500, description="default: says which step did what")
    body: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> StepNotice:
        for channel in self.channels:
            if split_channel(channel)[0] in ("in_app", "email"):
                raise ValueError(f"{channel!r}: a notice says in_app with `notification` and email with `email`")
        if not self.email and not self.notification and not self.channels:
            raise ValueError("a notice needs `email` recipients, `notification: true` or `channels`")
        return self


class StepNotifications(StrictModel):
    """`on_start` fires when the step starts (once per run: a retry sends `on_retry`); `on_retry` for each
    failed attempt that Airflow will retry; `on_failure` once the step has failed with no retry left;
    `on_success` when it succeeds. Each is sent at most once per step attempt, so a re-run callback or a
    clear of a delivered step sends nothing twice."""

    on_start: StepNotice | None = None
    on_success: StepNotice | None = None
    on_retry: StepNotice | None = None
    on_failure: StepNotice | None = None

    def notice(self, kind: NoticeKind) -> StepNotice | None:
        return getattr(self, f"on_{kind}")
