"""send_email: through the SMTP provider's connection conventions (automation.mail); text and HTML parts,
optional template file.

Each recipient item is exactly one address (a value read from data cannot add recipients with
commas, semicolons or line breaks); header fields carry no line breaks; the template file is
checked after rendering and must be a file inside include/templates/email/.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field, ValidationInfo, model_validator

from automation.actions.base import Action, ActionConfig, ActionContext, Capabilities, Delivered, is_template
from automation.actions.registry import register
from automation.config import email_template_dir
from automation.definitions.base import PathError
from automation.errors import PermanentActionError, TemplateError
from automation.mail import send
from automation.templating.sandbox import render_value

Addresses = str | list[str]
_ADDRESS = r"[^\s@,;:<>()\[\]\"\\]+@[^\s@,;:<>()\[\]\"\\]+"
#: `a@b.test` or `Display Name <a@b.test>`: one address, nothing that could start another.
_ONE_ADDRESS = re.compile(rf"(?:{_ADDRESS}|[^,;:<>()\[\]\"\\@\r\n]*<{_ADDRESS}>)")
ONE_ADDRESS_HINT = "one email address per item (a list for several); commas, semicolons and line breaks are refused"


def _addresses(value: Addresses | None) -> list[str]:
    """The items of a to/cc/bcc value (a validated config holds one address per item)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [a.strip() for a in items if a and a.strip()]


def _envelope(value: Addresses | None) -> list[str]:
    """The bare addresses SMTP delivers to (`Name <a@b>` -> `a@b`)."""
    return [parseaddr(item)[1] for item in _addresses(value)]


def is_one_address(value: str) -> bool:
    return bool(_ONE_ADDRESS.fullmatch(value.strip()))


def template_file(name: str) -> Path:
    """The file `name` under include/templates/email/: relative, no `..`, inside the folder, a file."""
    folder = email_template_dir().resolve()
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not name or name.startswith(("/", "\\")) or ".." in parts or ":" in name:
        raise PathError(
            "template", f"{name!r}: give a file name under include/templates/email/ (no '..', not absolute)"
        )
    path = (folder / name).resolve()
    if folder not in path.parents or not path.is_file():
        raise PathError("template", f"no template {name!r} under include/templates/email/")
    return path


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
    def _has_content(self, info: ValidationInfo) -> SendEmailConfig:
        unrendered = bool(info.context and info.context.get("allow_templates"))

        def pending(value: Any) -> bool:  # a template, checked once rendered
            return unrendered and is_template(value)

        if not (self.body or self.html or self.template):
            raise PathError("body", "give a body, an html part or a template")
        if self.template and not pending(self.template):
            template_file(self.template)
        for field in ("to", "cc", "bcc"):
            value = getattr(self, field)
            if value is None or pending(value):
                continue
            items = value if isinstance(value, list) else [value]
            if not items and field == "to":
                raise PathError(field, "give at least one email address")
            for index, item in enumerate(items):
                if not pending(item) and not is_one_address(item):
                    where = f"{field}[{index}]" if isinstance(value, list) else field
                    raise PathError(where, f"{item!r} is not a single email address; {ONE_ADDRESS_HINT}")
        for field in ("subject", "from_email", "reply_to"):
            value = getattr(self, field)
            if isinstance(value, str) and ("\r" in value or "\n" in value):
                raise PathError(field, "line breaks are not allowed in an email header")
        for field in ("from_email", "reply_to"):
            value = getattr(self, field)
            if value and not pending(value) and not is_one_address(value):
                raise PathError(field, f"{value!r} is not a single email address")
        return self


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
        try:
            source = template_file(config.template).read_text(encoding="utf-8")
        except PathError as exc:
            raise PermanentActionError(f"template: {exc.message}") from None
        html = render_value(source, ctx.template_context, f"template {config.template}")
        if not isinstance(html, str):
            raise TemplateError(f"template {config.template}: did not render to text")
    message.set_content(config.body or "This message has an HTML part.")
    if html:
        message.add_alternative(html, subtype="html")
    return message


@register
class SendEmail(Action[SendEmailConfig]):
    name = "send_email"
    config_model = SendEmailConfig
    summary = "Send an email (SMTP connection)"
    capabilities = Capabilities(external=True)

    def describe(self, config: SendEmailConfig) -> str:
        return f"email {', '.join(_addresses(config.to))}: {config.subject!r}"

    def execute(self, config: SendEmailConfig, ctx: ActionContext) -> Delivered:
        message = build_message(config, ctx)
        send(message, _envelope(config.to) + _envelope(config.cc) + _envelope(config.bcc), config.conn_id)
        return Delivered(
            {
                "message_id": message["Message-ID"],
                "to": _addresses(config.to),
                "cc": _addresses(config.cc),
                "bcc": _addresses(config.bcc),
                "subject": config.subject,
            }
        )
