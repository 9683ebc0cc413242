"""The delivery log (automation.notification_deliveries): one row per message and channel, written before
the message goes out (`sending`) and closed with `sent` or `failed` and the error. A replay claims a
failed row atomically (status back to `sending`, attempt + 1), so two replays of one delivery send once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from automation.store import tables as t
from automation.store.db import UsesDatabase
from automation.store.query import where_equal

STATUSES = ("sending", "sent", "failed")
#: Longest error text kept (a provider's reply can be large).
MAX_ERROR = 2000
MAX_PAGE = 500

_COLUMNS = t.notification_deliveries.c


def _row(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


class DeliveryLog(UsesDatabase):
    def start(self, channel: str, message: dict[str, Any], notification_id: int | None = None) -> int:
        """Log a delivery about to go out; its id."""
        values = {key: message.get(key) for key in ("recipient", "level", "title", "body", "link", "workflow_key",
                                                    "dag_id", "run_id")}  # fmt: skip
        values["recipients"] = list(message.get("recipients") or [])
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    insert(t.notification_deliveries)
                    .values(channel=channel, notification_id=notification_id, status="sending", **values)
                    .returning(_COLUMNS.id)
                ).scalar_one()
            )

    def finish(self, delivery_id: int, error: str | None) -> None:
        """Close a delivery: sent without `error`, else failed with it."""
        with self.engine.begin() as conn:
            conn.execute(
                update(t.notification_deliveries)
                .where(_COLUMNS.id == delivery_id)
                .values(
                    status="failed" if error else "sent",
                    error=error[:MAX_ERROR] if error else None,
                    updated_at=func.now(),
                )
            )

    def get(self, delivery_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.notification_deliveries).where(_COLUMNS.id == delivery_id)).mappings().first()
        return _row(row) if row is not None else None

    def claim_replay(self, delivery_id: int) -> dict[str, Any] | None:
        """The failed delivery, now `sending` its next attempt; None when it is not (or no longer) failed."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(t.notification_deliveries)
                    .where(_COLUMNS.id == delivery_id, _COLUMNS.status == "failed")
                    .values(status="sending", attempt=_COLUMNS.attempt + 1, updated_at=func.now())
                    .returning(t.notification_deliveries)
                )
                .mappings()
                .first()
            )
        return _row(row) if row is not None else None

    def list(
        self,
        *,
        recipient: str | None = None,
        workflow: str | None = None,
        status: str | None = None,
        unread: bool | None = None,
        before: int | None = None,
        limit: int = 100,
        run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; `before` pages on (ids below it); `run_id`: one run's (the execution page)."""
        query = select(t.notification_deliveries).order_by(_COLUMNS.id.desc()).limit(min(limit, MAX_PAGE))
        query = where_equal(
            query,
            (_COLUMNS.recipient, recipient),
            (_COLUMNS.workflow_key, workflow),
            (_COLUMNS.run_id, run_id),
            (_COLUMNS.status, status),
        )
        if unread is not None:
            query = query.where(_COLUMNS.read_at.is_(None) if unread else _COLUMNS.read_at.is_not(None))
        if before is not None:
            query = query.where(_COLUMNS.id < before)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query).mappings()]

    def mark_read(self, delivery_id: int) -> dict[str, Any] | None:
        """Mark a delivery (and its in-app notification) read; the row, None when there is none."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(t.notification_deliveries)
                    .where(_COLUMNS.id == delivery_id)
                    .values(read_at=func.coalesce(_COLUMNS.read_at, func.now()))
                    .returning(t.notification_deliveries)
                )
                .mappings()
                .first()
            )
            if row is not None and row["notification_id"] is not None:
                conn.execute(
                    update(t.notifications)
                    .where(t.notifications.c.id == row["notification_id"], t.notifications.c.read_at.is_(None))
                    .values(read_at=func.now())
                )
        return _row(row) if row is not None else None
