"""The periodic reports: the only SQL on automation.reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from automation.store import tables as t
from automation.store.db import UsesDatabase


class ReportStore(UsesDatabase):
    def save(
        self, kind: str, period_start: datetime, period_end: datetime, data: dict[str, Any], emailed_to: list[str]
    ) -> int:
        """One report per kind and period: a re-run (or a backfill of the same period) replaces it."""
        values = dict(kind=kind, period_start=period_start, period_end=period_end, data=data, emailed_to=emailed_to)
        statement = pg_insert(t.reports).values(**values)
        statement = statement.on_conflict_do_update(
            constraint="uq_reports_kind_period",
            set_={"period_end": period_end, "data": data, "emailed_to": emailed_to, "created_at": func.now()},
        )
        with self.engine.begin() as conn:
            return conn.execute(statement.returning(t.reports.c.id)).scalar_one()

    def list_reports(self, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(t.reports).order_by(t.reports.c.period_start.desc()).limit(limit)
        if kind:
            query = query.where(t.reports.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
