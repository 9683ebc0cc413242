"""The demo CRM schema and demo workflows that `make run` and the tests use."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from sqlalchemy import Engine

from automation.records.store import records_engine

DEMO_DIR = Path(__file__).parent
DEMO_WORKFLOWS = DEMO_DIR / "workflows"


def create_demo_crm(engine: Engine | None = None) -> None:
    sql = (DEMO_DIR / "crm.sql").read_text(encoding="utf-8")
    raw = (engine or records_engine()).raw_connection()
    try:
        with closing(raw.cursor()) as cursor:
            cursor.execute(sql)
        raw.commit()
    finally:
        raw.close()
