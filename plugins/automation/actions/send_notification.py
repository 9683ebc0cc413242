"""send_notification: to each of its channels: `in_app` (a row in automation.notifications and a Postgres
NOTIFY, for live push), `email`, `apprise[:conn_id]`, `slack[:conn_id]` (Airflow connections). Each delivery
is in the delivery log; a failed one does not fail the step (its output and the log say so; replay it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from automation.actions.base import Action, ActionConfig, ActionContext, Delivered
from automation.actions.registry import register
from automation.channels import Message, deliver, log_in_app
from automation.definitions.notices import Channel, split_channel

CHANNEL = "automation_notifications"


class SendNotificationConfig(ActionConfig):
    title: str = Field(min_length=1, max_length=500)
    body: str | None = None
    recipient: str | None = Field(default=None, description="a user id or email; none = everyone")
    level: Literal["info", "success", "warning", "error"] = "info"
    link: str | None = None
    channel: str = Field(default=CHANNEL, pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="the Postgres NOTIFY channel")
    channels: list[Channel] = Field(
        default_factory=lambda: ["in_app"], min_length=1, max_length=10,
        description="in_app, email, apprise[:conn_id], slack[:conn_id]",
    )  # fmt: skip
    email: list[str] = Field(
        default_factory=list, max_length=100, description="the email channel's addresses (default: the recipient)"
    )


@register
class SendNotification(Action[SendNotificationConfig]):
    name = "send_notification"
    config_model = SendNotificationConfig
    summary = "Notify a user: in the app (stored + Postgres NOTIFY), by email, Apprise or Slack"

    def describe(self, config: SendNotificationConfig) -> str:
        via = "" if config.channels == ["in_app"] else f" ({', '.join(config.channels)})"
        return f"notify {config.recipient or 'everyone'}{via}: {config.title}"

    def execute(self, config: SendNotificationConfig, ctx: ActionContext) -> Delivered:
        emails = config.email or ([config.recipient] if config.recipient and "@" in config.recipient else [])
        message = Message(
            title=config.title, body=config.body or "", level=config.level, recipient=config.recipient,
            recipients=emails, link=config.link, workflow_key=ctx.run.workflow_key, dag_id=ctx.run.dag_id,
            run_id=ctx.run.run_id,
        )  # fmt: skip
        notification_id = None
        deliveries = []
        for channel in dict.fromkeys(config.channels):
            if split_channel(channel)[0] != "in_app":
                # a dry run delivers nothing outside the machine and logs nothing (it commits nothing)
                deliveries.append(
                    {"channel": channel, "status": "planned"} if ctx.dry_run else deliver(channel, message)
                )
                continue
            notification_id = ctx.effects.notify(
                config.channel,
                recipient=config.recipient,
                level=config.level,
                title=config.title,
                body=config.body,
                link=config.link,
                workflow_key=ctx.run.workflow_key,
                dag_id=ctx.run.dag_id,
                run_id=ctx.run.run_id,
            )
            if not ctx.dry_run:
                log_in_app(message, notification_id)
        return Delivered(
            {"id": notification_id, "level": config.level, "recipient": config.recipient, "deliveries": deliveries}
        )
