"""CRUD on registered collections. Identifiers come from the registry; values are always bound."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, column, delete, func, insert, select, table, update

from automation.errors import NotFoundError
from automation.records.registry import Collection, CollectionsRegistry, get_registry
from automation.store.db import engine as engine_for


def _table(spec: Collection, columns: list[str] | None = None):
    names = columns or list(spec.columns)
    return table(spec.table_name, *(column(n) for n in names), schema=spec.schema_name)


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return dict(row)


class RecordStore:
    """Record operations on one connection (so a dry run can roll them all back)."""

    def __init__(self, conn: Connection, registry: CollectionsRegistry | None = None) -> None:
        self.conn = conn
        self.registry = registry or get_registry()

    def insert(self, collection: str, values: dict[str, Any]) -> dict[str, Any]:
        spec = self.registry.check_columns(collection, list(values))
        tbl = _table(spec)
        row = self.conn.execute(insert(tbl).values(**values).returning(*tbl.c)).mappings().one()
        return _plain(row)

    def update(self, collection: str, record_id: Any, values: dict[str, Any]) -> dict[str, Any]:
        spec = self.registry.check_columns(collection, list(values))
        tbl = _table(spec)
        if "updated_at" in spec.columns and "updated_at" not in values:
            values = {**values, "updated_at": func.now()}
        row = (
            self.conn.execute(
                update(tbl).where(tbl.c[spec.primary_key] == record_id).values(**values).returning(*tbl.c)
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise NotFoundError(f"{collection} record {record_id!r} does not exist")
        return _plain(row)

    def get(self, collection: str, record_id: Any) -> dict[str, Any]:
        spec = self.registry.collection(collection)
        tbl = _table(spec)
        row = self.conn.execute(select(tbl).where(tbl.c[spec.primary_key] == record_id)).mappings().one_or_none()
        if row is None:
            raise NotFoundError(f"{collection} record {record_id!r} does not exist")
        return _plain(row)

    def delete(self, collection: str, record_id: Any) -> dict[str, Any]:
        spec = self.registry.collection(collection)
        tbl = _table(spec)
        row = (
            self.conn.execute(delete(tbl).where(tbl.c[spec.primary_key] == record_id).returning(*tbl.c))
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise NotFoundError(f"{collection} record {record_id!r} does not exist")
        return _plain(row)


def records_engine(registry: CollectionsRegistry | None = None) -> Engine:
    return engine_for((registry or get_registry()).connection_id)
