"""Deliver an alert: a notification (automation.notifications + NOTIFY) and an email when there are
recipients. A delivery problem is logged, never raised: an alert must not fail what reported it."""

from __future__ import annotations

import logging
import os
from typing import Literal

from automation.actions.send_email import plain_message, smtp_send
from automation.actions.send_notification import CHANNEL
from automation.store.db import engine
from automation.store.repository import EffectStore

log = logging.getLogger(__name__)
Level = Literal["info", "success", "warning", "error"]


def default_recipients() -> list[str]:
    return [a.strip() for a in os.environ.get("AUTOMATION_ALERT_EMAILS", "").split(",") if a.strip()]


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
) -> None:
    link = f"/dags/{dag_id}/runs/{run_id}" if run_id else f"/dags/{dag_id}"
    if notify:
        try:
            with engine().begin() as conn:
                EffectStore(conn).notify(
                    CHANNEL, level=level, title=title, body=body, link=link, workflow_key=key, dag_id=dag_id,
                    run_id=run_id,
                )  # fmt: skip
        except Exception:
            log.exception("Could not store the alert notification %r", title)
    if recipients:
        try:
            smtp_send(plain_message(title, f"{body}\n\nAirflow: {link}\n", recipients), recipients)
        except Exception:
            log.exception("Could not email the alert %r to %s", title, recipients)
