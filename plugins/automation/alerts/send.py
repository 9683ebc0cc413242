"""Deliver an alert: a notification (automation.notifications + NOTIFY), an email when there are
recipients, and any other channels (automation.channels), each in the delivery log. A delivery problem is
logged, never raised: an alert must not fail what reported it."""

from __future__ import annotations

import logging
from typing import Any

from automation.actions.send_notification import CHANNEL
from automation.channels import Message, deliver, log_in_app
from automation.config import alert_emails
from automation.definitions.notices import Level
from automation.store.db import engine
from automation.store.repository import EffectStore

log = logging.getLogger(__name__)


def default_recipients() -> list[str]:
    return list(alert_emails())


def send_alert(
    *,
    key: str,
    dag_id: str,
    run_id: str | None,
    level: Level,
    title: str,
    body: str,
    recipients: list[str],
    notify: bool = True,
    recipient: str | None = None,
    once: dict[str, Any] | None = None,
    channels: tuple[str, ...] | list[str] = (),
    texts: dict[str, tuple[str, str]] | None = None,
) -> bool:
    """Send it; with `once` (a step notice's key), only if that notice was not sent before.
    `channels`: more channels (apprise[:conn], slack[:conn]); `texts`: title and body per channel kind.
    False when nothing was sent because it had been, or the claim could not be stored."""
    link = f"/dags/{dag_id}/runs/{run_id}" if run_id else f"/dags/{dag_id}"
    message = Message(
        title=title, body=body, level=level, recipient=recipient, recipients=recipients, link=link,
        workflow_key=key, dag_id=dag_id, run_id=run_id, texts=texts or {},
    )  # fmt: skip
    notification_id = None
    try:
        with engine().begin() as conn:
            store = EffectStore(conn)
            if once is not None and not store.claim_notice(**once):
                log.info("Already sent: %r", title)
                return False
            if notify:
                in_title, in_body = message.for_kind("in_app")
                notification_id = store.notify(
                    CHANNEL, recipient=recipient, level=level, title=in_title[:500], body=in_body, link=link,
                    workflow_key=key, dag_id=dag_id, run_id=run_id,
                )  # fmt: skip
    except Exception:
        log.exception("Could not store the alert %r", title)
        if once is not None:
            return False  # not sure it was not sent: at most once
    if notification_id is not None:
        log_in_app(message, notification_id)
    for channel in dict.fromkeys([*(["email"] if recipients else []), *channels]):
        deliver(channel, message)
    return True
