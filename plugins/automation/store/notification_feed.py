"""A live feed of in-app notifications for one reader: the rows of automation.notifications after a given
id (the reader's last seen), then each new one as Postgres NOTIFYs it (`send_notification`'s channel),
in id order, each once. It LISTENs before it reads the backlog, so a notification committed in between is
not lost (it is in the backlog, or NOTIFYed, or both, and sent once). Its connection is detached from the
pool (a feed lives long and must not hold a pooled connection) and closed with the feed."""

from __future__ import annotations

import contextlib
import json
import select
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy import select as sql_select

from automation.store import tables as t
from automation.store.db import engine

#: the NOTIFY channel of in-app notifications (send_notification's default)
CHANNEL = "automation_notifications"
#: most backlog rows one feed replays (a reader far behind pages through the list API instead)
MAX_BACKLOG = 500


def _jsonable(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


class NotificationFeed:
    def __init__(self, recipient: str | None, after: int | None) -> None:
        """`recipient`: only the notifications for this user and those for everyone; None: all.
        `after`: the reader's last id; None: from now on (the newest id, read once it LISTENs)."""
        self.recipient = recipient
        self.last = after or 0
        self.connection = engine().raw_connection()
        driver = self.connection.driver_connection
        if driver is None:
            self.connection.invalidate()
            raise RuntimeError("the database driver gave no connection to LISTEN on")
        self.connection.detach()
        self.driver = driver
        try:
            driver.autocommit = True
            with driver.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            if after is None:
                with engine().connect() as conn:
                    newest = conn.execute(sql_select(func.coalesce(func.max(t.notifications.c.id), 0))).scalar_one()
                self.last = int(newest)
        except BaseException:
            self.close()
            raise

    def backlog(self) -> list[dict[str, Any]]:
        """The notifications after the reader's last id, oldest first."""
        columns = t.notifications.c
        query = sql_select(t.notifications).where(columns.id > self.last).order_by(columns.id).limit(MAX_BACKLOG)
        if self.recipient is not None:
            query = query.where(or_(columns.recipient == self.recipient, columns.recipient.is_(None)))
        with engine().connect() as conn:
            return self._take([_jsonable(r) for r in conn.execute(query).mappings()])

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        """The new notifications NOTIFYed within `timeout` seconds (none when nothing came)."""
        ready, _, _ = select.select([self.driver], [], [], timeout)
        if not ready:
            return []
        self.driver.poll()
        rows = []
        while self.driver.notifies:
            notify = self.driver.notifies.pop(0)
            try:
                row = json.loads(notify.payload)
            except ValueError:
                continue
            if isinstance(row, dict) and (self.recipient is None or row.get("recipient") in (None, self.recipient)):
                rows.append(row)
        return self._take(sorted(rows, key=lambda r: int(r.get("id") or 0)))

    def _take(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = [r for r in rows if isinstance(r.get("id"), int) and r["id"] > self.last]
        if fresh:
            self.last = fresh[-1]["id"]
        return fresh

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.close()
