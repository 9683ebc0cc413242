"""The one way a rendered notice or notification reaches a channel other than the in-app table: `email`
(the SMTP connection), `apprise` and `slack` (Airflow's notifier providers, an Airflow connection each).
Every delivery, in-app ones included (`log_in_app`), is a row of the delivery log, written before the
message goes out and closed with its status and error, so a failed delivery can be found and replayed;
a delivery never raises."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from automation.definitions.notices import split_channel
from automation.store.deliveries import DeliveryLog

log = logging.getLogger(__name__)


@dataclass
class Message:
    """What a channel sends: `recipients` are the email channel's addresses; `texts` are per channel kind
    (title, body) replacing `title` and `body` there (a named template's channel texts)."""

    title: str
    body: str = ""
    level: str = "info"
    recipient: str | None = None
    recipients: list[str] = field(default_factory=list)
    link: str | None = None
    workflow_key: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)

    def for_kind(self, kind: str) -> tuple[str, str]:
        return self.texts.get(kind, (self.title, self.body))

    def logged(self, kind: str) -> dict[str, Any]:
        """The delivery log's columns for this message on a channel of `kind`."""
        title, body = self.for_kind(kind)
        values = asdict(self)
        values.pop("texts")
        return {**values, "title": title[:500], "body": body}


def _send(kind: str, conn_id: str, title: str, body: str, level: str, recipients: list[str], link: str | None) -> None:
    if kind == "email":
        from automation.errors import PermanentActionError
        from automation.mail import plain_message, send

        if not recipients:
            raise PermanentActionError("the email channel has no recipients")
        text = f"{body}\n\nAirflow: {link}\n" if link else body
        send(plain_message(title, text, recipients), recipients, conn_id)
    elif kind == "apprise":
        from automation.airflow_adapter.notifiers import send_apprise

        send_apprise(conn_id, title=title, body=body, level=level)
    elif kind == "slack":
        from automation.airflow_adapter.notifiers import send_slack_webhook

        send_slack_webhook(conn_id, title=title, body=body, level=level)
    else:
        raise ValueError(f"channel {kind!r} is not sent here")


def _attempt(delivery_id: int | None, row: dict[str, Any]) -> dict[str, Any]:
    kind, conn_id = split_channel(row["channel"])
    error = None
    try:
        _send(kind, conn_id or "", row["title"], row["body"] or "", row["level"], row["recipients"], row["link"])
    except Exception as exc:
        error = str(exc) or type(exc).__name__
        log.warning("Delivery %s to %s failed: %s", delivery_id, row["channel"], error)
    if delivery_id is not None:
        try:
            DeliveryLog().finish(delivery_id, error)
        except Exception:
            log.exception("Could not close delivery %s", delivery_id)
    return {"id": delivery_id, "channel": row["channel"], "status": "failed" if error else "sent", "error": error}


def deliver(channel: str, message: Message) -> dict[str, Any]:
    """Send `message` to `channel` (email, apprise[:conn], slack[:conn]) and log it: {id, channel, status,
    error}. A failure is logged (status failed) and returned, never raised; when the log cannot take it
    (the database is down) it is still sent, with id None."""
    kind = split_channel(channel)[0]
    row = {"channel": channel, **message.logged(kind)}
    try:
        delivery_id = DeliveryLog().start(channel, row)
    except Exception:
        log.exception("Could not log a delivery to %s; sending it unlogged", channel)
        return _attempt(None, row)
    return _attempt(delivery_id, row)


def log_in_app(message: Message, notification_id: int) -> None:
    """Log an in-app notification stored (and NOTIFYed) by its caller."""
    try:
        log_ = DeliveryLog()
        delivery_id = log_.start("in_app", message.logged("in_app"), notification_id=notification_id)
        log_.finish(delivery_id, None)
    except Exception:
        log.exception("Could not log the in-app notification %s", notification_id)


def replay(delivery_id: int) -> dict[str, Any] | None:
    """Send a failed delivery again (once, however many replays race); None when it is not failed."""
    row = DeliveryLog().claim_replay(delivery_id)
    if row is None:
        return None
    if row["channel"] == "in_app":  # an in-app row is stored with its notification: never failed
        DeliveryLog().finish(delivery_id, None)
        return {"id": delivery_id, "channel": "in_app", "status": "sent", "error": None}
    return _attempt(delivery_id, row)
