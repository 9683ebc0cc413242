"""The one way the plugin sends email (send_email steps, alerts, step notices, reports): the SMTP
provider's `SmtpHook` opens the connection with its conventions, and each call sends one message once.

Connection fields read (the provider's, so a connection means the same to this plugin and to the rest of
Airflow): host, port, login, password; extra `from_email`, `disable_ssl` (SSL is on unless true),
`disable_tls` (STARTTLS is on unless true), `timeout` (seconds, default 30), `retry_limit` (connection
attempts after a dropped connect, default 5), `ssl_context` (`default` or `none`), `auth_type` (`basic` or
`oauth2`). The hook's own `send_email_smtp` is not used: it re-sends after any error (a message could go out
twice within one step attempt) and builds an HTML-only message from comma-split addresses; here the
caller's message (text + HTML, already hardened) goes out with exactly one SMTP transaction.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from automation.airflow_adapter.connections import connection_extra
from automation.airflow_adapter.smtp import smtp_client, smtp_hook
from automation.errors import ActionError, PermanentActionError

#: Extras of this plugin before it used the SMTP provider; no longer read (see `_check_extra`).
LEGACY_EXTRAS = ("ssl", "starttls")
FIELDS_HINT = (
    "the SMTP provider's extras: disable_ssl: true for plain SMTP or STARTTLS (port 25/587), "
    "disable_tls: true to skip STARTTLS (SSL on port 465, or a plain relay)"
)


def _check_extra(conn_id: str, extra: dict[str, Any]) -> None:
    for key in ("disable_ssl", "disable_tls"):
        value = extra.get(key)
        if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
            raise PermanentActionError(
                f"SMTP connection {conn_id!r}: extra {key}={value!r} is a non-empty text, which the SMTP provider "
                f"reads as true; leave {key} out (or give JSON false) to keep it off"
            )
    legacy = [key for key in LEGACY_EXTRAS if key in extra]
    if legacy and "disable_ssl" not in extra and "disable_tls" not in extra:
        raise PermanentActionError(
            f"SMTP connection {conn_id!r}: the extra {', '.join(legacy)} is no longer read; use {FIELDS_HINT}"
        )


def _mode(hook: Any) -> str:
    return f"SSL {'on' if hook.use_ssl else 'off'}, STARTTLS {'on' if hook.smtp_starttls else 'off'}"


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


def send(message: EmailMessage, recipients: list[str], conn_id: str = "smtp_default") -> None:
    """Deliver `message` to `recipients` (the envelope; Bcc never in a header) through connection `conn_id`.
    A message without From gets the connection's `from_email` (else its login). A refusal or a connection
    that cannot work as configured is permanent (no retry); an unreachable server or a 4xx reply is
    retryable."""
    hook = smtp_hook(conn_id)
    where = conn_id
    try:
        hook.smtp_connection = hook.get_connection(conn_id)
        _check_extra(conn_id, connection_extra(hook.smtp_connection))
        where = f"{hook.host or 'localhost'}:{hook.port or (465 if hook.use_ssl else 25)} ({_mode(hook)})"
        with hook:  # connects (retry_limit on dropped connects), STARTTLS unless disabled, logs in
            if not message["From"]:
                message["From"] = hook.from_email or hook.smtp_user or "automation@localhost"
            client = smtp_client(hook)  # the hook's logged-in client
            if client is None:
                raise ActionError(f"SMTP server {where}: the SMTP provider gave no connection")
            client.send_message(message, to_addrs=recipients)
    except PermanentActionError:
        raise
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as exc:
        raise PermanentActionError(f"SMTP refused the message: {exc}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentActionError(f"SMTP server {where}: {exc}; set {FIELDS_HINT}") from exc
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise PermanentActionError(f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}") from exc
        raise ActionError(f"SMTP temporary error {exc.smtp_code}: {exc.smtp_error!r}") from exc
    except ssl.SSLError as exc:
        raise PermanentActionError(f"SMTP server {where}: TLS failed ({exc}); check {FIELDS_HINT}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise ActionError(f"SMTP server {where} unreachable: {exc}") from exc
    except (RuntimeError, ValueError) as exc:  # the hook's check of ssl_context, a non-integer timeout...
        raise PermanentActionError(f"SMTP connection {conn_id!r}: {exc}") from exc
    except Exception as exc:  # AirflowException: "Unable to connect to smtp server" after retry_limit
        raise ActionError(f"SMTP server {where}: {exc}") from exc
