"""send_notification: a row in automation.notifications and a Postgres NOTIFY, for live push."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from automation.actions.base import Action, ActionConfig, ActionContext, Delivered
from automation.actions.registry import register

CHANNEL = "automation_notifications"


class SendNotificationConfig(ActionConfig):
    title: str = Field(min_length=1, max_length=500)
    body: str | None = None
    recipient: str | None = Field(default=None, description="a user id or email; none = everyone")
    level: Literal["info", "success", "warning", "error"] = "info"
    link: str | None = None
    channel: str = Field(default=CHANNEL, pattern=r"^[a-z_][a-z0-9_]{0,62}$")


@register
class SendNotification(Action[SendNotificationConfig]):
    name = "send_notification"
    config_model = SendNotificationConfig
    summary = "Notify a user in the app (stored + Postgres NOTIFY)"

    def describe(self, config: SendNotificationConfig) -> str:
        return f"notify {config.recipient or 'everyone'}: {config.title}"

    def execute(self, config: SendNotificationConfig, ctx: ActionContext) -> Delivered:
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
        return Delivered({"id": notification_id, "level": config.level, "recipient": config.recipient})
