"""`automation capture enable|disable|status`: install or remove the capture triggers of registered
collections, each in the database of its own connection, and report what is installed.

Invariant: enabling is idempotent (the schema is created if missing, a collection's function and trigger
are replaced, so a registry change is picked up by enabling again) and runs in one transaction per
database: a collection whose table is missing fails that database's whole batch, naming the collection.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from automation.capture.sql import SCHEMA, SCHEMA_DDL, TRIGGER, install_sql, uninstall_sql
from automation.errors import AutomationError, RegistryError
from automation.records.registry import CollectionsRegistry, get_registry
from automation.store.db import engine


def connection_of(registry: CollectionsRegistry, collection: str) -> str:
    """The connection id of `collection`'s database."""
    return registry.connection_for(collection)


def capture_connections(registry: CollectionsRegistry | None = None) -> set[str]:
    """Every connection id a registered collection lives in (where an outbox may be)."""
    return (registry or get_registry()).connection_ids()


def _by_connection(registry: CollectionsRegistry, names: list[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for name in names or sorted(registry.collections):
        registry.collection(name)  # an unknown name: RegistryError naming the registered ones
        grouped[connection_of(registry, name)].append(name)
    return grouped


def enable(names: list[str], registry: CollectionsRegistry | None = None) -> dict[str, str]:
    """Install capture on `names` (all registered collections when empty); returns collection -> conn id."""
    registry = registry or get_registry()
    done: dict[str, str] = {}
    for conn_id, group in _by_connection(registry, names).items():
        with engine(conn_id).begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('automation_capture'))"))
            conn.execute(text(SCHEMA_DDL))
            for name in group:
                spec = registry.collection(name)
                if conn.execute(text("SELECT to_regclass(:t)"), {"t": spec.table}).scalar() is None:
                    raise RegistryError(
                        f"collection {name!r}: table {spec.table} does not exist in the database of connection "
                        f"{conn_id!r}; create it or fix the registry's `table`"
                    )
                conn.execute(text(install_sql(name, spec)))
                done[name] = conn_id
    return done


def disable(names: list[str], registry: CollectionsRegistry | None = None) -> dict[str, str]:
    """Remove capture from `names` (all when empty); the outbox and what it still holds stay."""
    registry = registry or get_registry()
    done: dict[str, str] = {}
    for conn_id, group in _by_connection(registry, names).items():
        with engine(conn_id).begin() as conn:
            if conn.execute(text("SELECT to_regnamespace(:s)"), {"s": SCHEMA}).scalar() is None:
                continue
            for name in group:
                spec = registry.collection(name)
                if conn.execute(text("SELECT to_regclass(:t)"), {"t": spec.table}).scalar() is None:
                    continue
                conn.execute(text(uninstall_sql(name, spec)))
                done[name] = conn_id
    return done


@dataclass
class ConnectionStatus:
    conn_id: str
    installed: dict[str, bool]
    backlog: int
    last_event_at: datetime | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection": self.conn_id,
            "collections": self.installed,
            "backlog": self.backlog,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "error": self.error,
        }


def status(registry: CollectionsRegistry | None = None) -> list[ConnectionStatus]:
    """Per connection: which collections have the trigger, the outbox backlog (changes not moved to the
    ledger yet) and when the last change was captured."""
    registry = registry or get_registry()
    result = []
    for conn_id, group in sorted(_by_connection(registry, []).items()):
        tables = {registry.collection(n).table: n for n in group}
        try:
            with engine(conn_id).connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT n.nspname || '.' || c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE g.tgname = :t"
                    ),
                    {"t": TRIGGER},
                ).scalars()
                on = {tables[t] for t in rows if t in tables}
                backlog, last = 0, None
                if conn.execute(text("SELECT to_regclass(:t)"), {"t": f"{SCHEMA}.outbox"}).scalar() is not None:
                    backlog, last = conn.execute(
                        text(
                            f"SELECT (SELECT count(*) FROM {SCHEMA}.outbox), greatest("
                            f"(SELECT max(captured_at) FROM {SCHEMA}.outbox), (SELECT last_at FROM {SCHEMA}.drained))"
                        )
                    ).one()
            result.append(ConnectionStatus(conn_id, {n: n in on for n in sorted(group)}, backlog, last))
        except (SQLAlchemyError, AutomationError) as exc:
            result.append(ConnectionStatus(conn_id, {n: False for n in sorted(group)}, 0, None, str(exc)[:300]))
    return result
