"""send_email: SMTP through an Airflow connection; text and HTML parts, optional template file."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from automation.actions.base import Action, ActionConfig, ActionContext, is_template
from automation.actions.registry import register
from automation.config import include_dir
from automation.connections import connection_extra, get_connection
from automation.definitions.base import PathError
from automation.errors import ActionError, PermanentActionError, TemplateError
from automation.templating.sandbox import render_value

Addresses = str | list[str]


def _addresses(value: Addresses | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else value.split(",")
    return [a.strip() for a in items if a and a.strip()]


def email_template_dir() -> Path:
    return include_dir() / "templates" / "email"


class SendEmailConfig(ActionConfig):
    to: Addresses
    cc: Addresses | None = None
    bcc: Addresses | None = None
    subject: str = Field(min_length=1, max_length=998)
    body: str | None = Field(default=None, description="plain-text part")
    html: str | None = Field(default=None, description="HTML part")
    template: str | None = Field(default=None, description="file under include/templates/email/ for the HTML part")
    from_email: str | None = None
    reply_to: str | None = None
    conn_id: str = "smtp_default"

    @model_validator(mode="after")
    def _has_content(self) -> SendEmailConfig:
        if not (self.body or self.html or self.template):
            raise PathError("body", "give a body, an html part or a template")
        if self.template and not is_template(self.template):
            path = (email_template_dir() / self.template).resolve()
            if email_template_dir().resolve() not in path.parents or not path.is_file():
                raise PathError("template", f"no template {self.template!r} under include/templates/email/")
        return self


def smtp_send(message: EmailMessage, recipients: list[str], conn_id: str = "smtp_default") -> None:
    """Deliver through the SMTP server of an Airflow connection (extra: from_email, ssl, starttls).
    A refusal is permanent (no retry); an unreachable server or a 4xx reply is retryable."""
    conn = get_connection(conn_id)
    extra = connection_extra(conn)
    if not message["From"]:
        message["From"] = extra.get("from_email") or conn.login or "automation@localhost"
    host, port = conn.host or "localhost", int(conn.port or (465 if extra.get("ssl") else 25))
    try:
        if extra.get("ssl"):
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=30)
        with client:
            if extra.get("starttls"):
                client.starttls(context=ssl.create_default_context())
            if conn.login and conn.password:
                client.login(conn.login, conn.password)
            client.send_message(message, to_addrs=recipients)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as exc:
        raise PermanentActionError(f"SMTP refused the message: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise PermanentActionError(f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}") from exc
        raise ActionError(f"SMTP temporary error {exc.smtp_code}: {exc.smtp_error!r}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise ActionError(f"SMTP server {host}:{port} unreachable: {exc}") from exc


def plain_message(subject: str, body: str, to: list[str], html: str | None = None) -> EmailMessage:
    """A message of the project's own (alerts, reports): the connection's sender, text (+ HTML)."""
    message = EmailMessage()
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="automation.local")
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def build_message(config: SendEmailConfig, ctx: ActionContext) -> EmailMessage:
    message = EmailMessage()
    if config.from_email:
        message["From"] = config.from_email
    message["To"] = ", ".join(_addresses(config.to))
    if cc := _addresses(config.cc):
        message["Cc"] = ", ".join(cc)
    if config.reply_to:
        message["Reply-To"] = config.reply_to
    message["Subject"] = config.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="automation.local")
    message["X-Automation-Run"] = f"{ctx.run.dag_id}/{ctx.run.run_id}/{ctx.run.task_id}"
    html = config.html
    if config.template:
        source = (email_template_dir() / config.template).read_text(encoding="utf-8")
        html = render_value(source, ctx.template_context, f"template {config.template}")
        if not isinstance(html, str):
            raise TemplateError(f"template {config.template}: did not render to text")
    message.set_content(config.body or "This message has an HTML part.")
    if html:
        message.add_alternative(html, subtype="html")
    return message


@register
class SendEmail(Action):
    name = "send_email"
    config_model = SendEmailConfig
    external = True
    summary = "Send an email (SMTP connection)"

    def describe(self, config: SendEmailConfig) -> str:
        return f"would email {', '.join(_addresses(config.to))}: {config.subject!r}"

    def run(self, config: SendEmailConfig, ctx: ActionContext) -> dict[str, Any]:
        message = build_message(config, ctx)
        smtp_send(message, _addresses(config.to) + _addresses(config.cc) + _addresses(config.bcc), config.conn_id)
        return {
            "message_id": message["Message-ID"],
            "to": _addresses(config.to),
            "cc": _addresses(config.cc),
            "bcc": _addresses(config.bcc),
            "subject": config.subject,
        }
