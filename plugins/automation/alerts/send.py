"""Deliver an alert: a notification (automation.notifications + NOTIFY) and an email when there are
recipients. A delivery problem is logged, never raised: an alert must not fail what reported it."""

from __future__ import annotations

import logging
from typing import Any

from automation.actions.send_notification import CHANNEL
from automation.config import alert_emails
from automation.definitions.notices import Level
from automation.mail import plain_message, send
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
) -> bool:
    """Send it; with `once` (a step notice's key), only if that notice was not sent before.
    False when nothing was sent because it had been, or the claim could not be stored."""
    link = f"/dags/{dag_id}/runs/{run_id}" if run_id else f"/dags/{dag_id}"
    try:
        with engine().begin() as conn:
            store = EffectStore(conn)
            if once is not None and not store.claim_notice(**once):
                log.info("Already sent: %r", title)
                return False
            if notify:
                store.notify(
                    CHANNEL, recipient=recipient, level=level, title=title, body=body, link=link,
                    workflow_key=key, dag_id=dag_id, run_id=run_id,
                )  # fmt: skip
    except Exception:
        log.exception("Could not store the alert %r", title)
        if once is not None:
            return False  # not sure it was not sent: at most once
    if recipients:
        try:
            send(plain_message(title, f"{body}\n\nAirflow: {link}\n", recipients), recipients)
        except Exception:
            log.exception("Could not email the alert %r to %s", title, recipients)
    return True
