"""Effect records kept in an application database's capture schema, so a record action on a database other
than the automation database commits its change and its effect record in one transaction.

Invariant: a step that changed records in an application database whose capture schema exists records its
effect there, in the step's transaction on that database, which commits before the automation database's
(the step opens the automation transaction first); a retry or clear finds the effect in either place and
does not repeat the change. Without the schema (capture never enabled there) nothing is recorded here.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from automation.capture.sql import SCHEMA
from automation.store.db import engine

_HAS_EFFECTS = text("SELECT to_regclass(:t)")
_RECORD = text(
    f"INSERT INTO {SCHEMA}.effects (dag_id, run_id, task_id, map_index, action, output, try_number) "
    "VALUES (:dag_id, :run_id, :task_id, :map_index, :action, CAST(:output AS jsonb), :try_number) "
    "ON CONFLICT (dag_id, run_id, task_id, map_index) DO UPDATE SET action = excluded.action, "
    "output = excluded.output, try_number = excluded.try_number, created_at = now()"
)
_RECORDED = text(
    f"SELECT output FROM {SCHEMA}.effects WHERE dag_id = :dag_id AND run_id = :run_id AND task_id = :task_id "
    "AND map_index = :map_index"
)


def has_effects(conn: Connection) -> bool:
    return conn.execute(_HAS_EFFECTS, {"t": f"{SCHEMA}.effects"}).scalar() is not None


def record(conn: Connection, key: tuple[str, str, str, int], action: str, output: Any, try_number: int) -> bool:
    """Record the effect in this application database's transaction; False when it has no capture schema."""
    if not has_effects(conn):
        return False
    dag_id, run_id, task_id, map_index = key
    conn.execute(_RECORD, {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index,
                           "action": action, "output": json.dumps(output), "try_number": try_number})  # fmt: skip
    return True


def recorded(conn_ids: set[str], key: tuple[str, str, str, int]) -> tuple[bool, Any]:
    """Whether an application database holds this step's effect (and its output)."""
    dag_id, run_id, task_id, map_index = key
    for conn_id in sorted(conn_ids):
        with engine(conn_id).connect() as conn:
            if not has_effects(conn):
                continue
            row = conn.execute(
                _RECORDED, {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index}
            ).one_or_none()
        if row is not None:
            return True, row.output
    return False, None
