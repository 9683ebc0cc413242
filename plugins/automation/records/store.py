"""CRUD on registered collections. Identifiers come from the registry; values are always bound, and
a query by filter (whose `matches` pattern or `contains` text may come from event data) runs under a
statement timeout, since Postgres regular expressions and LIKE scans are not linear-time.

Each collection is reached on its own database's connection (`CollectionsRegistry.connection_for`). A
store given an `Origin` (a workflow's step) marks its transactions with it (SET LOCAL automation.origin,
depth, actor) before the first write, so the capture trigger (automation.capture) records the change as
the product's own; such a captured change is flagged `captured` in `changes`, since it reaches the ledger
through the capture outbox, committed with the change, and must not be appended a second time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    TableClause,
    column,
    delete,
    func,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError

from automation.capture.sql import ACTOR_SETTING, DEPTH_SETTING, ORIGIN_SETTING, TRIGGER
from automation.config import records_filter_timeout_ms
from automation.definitions.conditions import Condition
from automation.errors import ActionTimeout, NotFoundError, PermanentActionError
from automation.records.filters import where_clause
from automation.records.registry import Collection, CollectionsRegistry, get_registry
from automation.store.db import engine as engine_for

#: Postgres SQLSTATE of a statement stopped by statement_timeout
QUERY_CANCELED = "57014"


def _table(spec: Collection, columns: list[str] | None = None) -> TableClause:
    names = columns or list(spec.columns)
    return table(spec.table_name, *(column(n) for n in names), schema=spec.schema_name)


def _plain(row: RowMapping) -> dict[str, Any]:
    """A result row as a plain dict keyed by column name (a RowMapping iterates its names)."""
    return {name: row[name] for name in row}


@dataclass(frozen=True)
class Origin:
    """Who changes records: the capture trigger copies these into the outbox row."""

    workflow_key: str
    depth: int
    actor: str


class RecordStore:
    """Record operations on one connection (so a dry run can roll them all back), or, with
    `connections`, on the connection of each collection's database (opened by the caller)."""

    def __init__(
        self,
        conn: Connection | None,
        registry: CollectionsRegistry | None = None,
        *,
        origin: Origin | None = None,
        connections: Callable[[str], Connection] | None = None,
    ) -> None:
        self.conn = conn
        self.registry = registry or get_registry()
        self.origin = origin
        self.connections = connections
        #: What changed (collection, event, old, new, captured), so the step can put record events in the
        #: ledger (those not `captured`: the capture outbox carries the others).
        self.changes: list[dict[str, Any]] = []
        #: connection ids this store wrote to (a step records its effect in each app database's capture schema)
        self.written: set[str] = set()
        self._marked: set[int] = set()
        self._captured: dict[tuple[int, str], bool] = {}

    def connection_id(self, collection: str) -> str:
        return self.registry.connection_for(collection)

    def _conn(self, collection: str) -> Connection:
        if self.connections is None:
            if self.conn is None:
                raise ValueError("a RecordStore needs a connection or a `connections` opener")
            return self.conn
        return self.connections(self.connection_id(collection))

    def _writing(self, collection: str) -> Connection:
        """The collection's connection, marked with the origin before the first write of its transaction."""
        conn = self._conn(collection)
        self.written.add(self.connection_id(collection))
        if self.origin is not None and id(conn) not in self._marked:
            conn.execute(
                text("SELECT set_config(:o, :ov, true), set_config(:d, :dv, true), set_config(:a, :av, true)"),
                {"o": ORIGIN_SETTING, "ov": self.origin.workflow_key, "d": DEPTH_SETTING,
                 "dv": str(self.origin.depth), "a": ACTOR_SETTING, "av": self.origin.actor},
            )  # fmt: skip
            self._marked.add(id(conn))
        return conn

    def is_captured(self, collection: str) -> bool:
        """Whether the collection's table has the capture trigger (looked up once per store)."""
        conn = self._conn(collection)
        key = (id(conn), collection)
        if key not in self._captured:
            self._captured[key] = bool(
                conn.execute(
                    text("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND tgname = :n)"),
                    {"t": self.registry.collection(collection).table, "n": TRIGGER},
                ).scalar()
            )
        return self._captured[key]

    def _changed(self, collection: str, event: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self.changes.append(
            {"collection": collection, "event": event, "old": old, "new": new, "captured": self.is_captured(collection)}
        )

    def ledger_changes(self) -> list[dict[str, Any]]:
        """The changes the step appends to the ledger itself (the capture outbox carries the others)."""
        return [change for change in self.changes if not change["captured"]]

    @contextmanager
    def _bounded_filter(self, collection: str) -> Iterator[None]:
        """Cap the statements of this transaction (the filter's query and what follows it in the step): a
        slow pattern scan or a wait on rows another transaction holds. The attempt fails with a retryable
        error (the rows may be free next time); the step's `retries` bound the attempts."""
        timeout = int(records_filter_timeout_ms())
        self._conn(collection).execute(text(f"SET LOCAL statement_timeout = {timeout}"))
        try:
            yield
        except OperationalError as exc:
            if getattr(exc.orig, "pgcode", None) != QUERY_CANCELED:
                raise
            raise ActionTimeout(
                f"the filter on {collection} took longer than {timeout} ms in the database (a slow scan, or rows "
                "locked by another transaction) and was stopped; narrow the filter or raise "
                "[automation] records_filter_timeout_ms"
            ) from None

    def _locked_rows(
        self, conn: Connection, spec: Collection, tbl: Any, where: Any, limit: int
    ) -> list[dict[str, Any]]:
        query = select(tbl).where(where).order_by(tbl.c[spec.primary_key]).limit(limit).with_for_update()
        return [_plain(r) for r in conn.execute(query).mappings()]

    def insert(self, collection: str, values: dict[str, Any]) -> dict[str, Any]:
        spec = self.registry.check_columns(collection, list(values))
        tbl = _table(spec)
        row = _plain(self._writing(collection).execute(insert(tbl).values(**values).returning(*tbl.c)).mappings().one())
        self._changed(collection, "created", None, row)
        return row

    def update(self, collection: str, record_id: Any, values: dict[str, Any]) -> dict[str, Any]:
        spec = self.registry.check_columns(collection, list(values))
        tbl = _table(spec)
        conn = self._writing(collection)
        old = self._locked_rows(conn, spec, tbl, tbl.c[spec.primary_key] == record_id, 1)
        if not old:
            raise NotFoundError(f"{collection} record {record_id!r} does not exist")
        if "updated_at" in spec.columns and "updated_at" not in values:
            values = {**values, "updated_at": func.now()}
        query = update(tbl).where(tbl.c[spec.primary_key] == record_id).values(**values).returning(*tbl.c)
        row = _plain(conn.execute(query).mappings().one())
        self._changed(collection, "updated", old[0], row)
        return row

    def get(self, collection: str, record_id: Any) -> dict[str, Any]:
        spec = self.registry.collection(collection)
        tbl = _table(spec)
        row = (
            self._conn(collection)
            .execute(select(tbl).where(tbl.c[spec.primary_key] == record_id))
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise NotFoundError(f"{collection} record {record_id!r} does not exist")
        return _plain(row)

    def delete(self, collection: str, record_id: Any) -> dict[str, Any]:
        spec = self.registry.collection(collection)
        tbl = _table(spec)
        row = (
            self._writing(collection)
            .execute(delete(tbl).where(tbl.c[spec.primary_key] == record_id).returning(*tbl.c))
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise NotFoundError(f"{collection} record {record_id!r} does not exist")
        self._changed(collection, "deleted", _plain(row), None)
        return _plain(row)

    def select_where(self, collection: str, condition: Condition | None, limit: int) -> list[dict[str, Any]]:
        spec = self.registry.collection(collection)
        tbl = _table(spec)
        query = select(tbl).where(where_clause(condition, tbl.c)).order_by(tbl.c[spec.primary_key]).limit(limit)
        with self._bounded_filter(collection):
            return [_plain(r) for r in self._conn(collection).execute(query).mappings()]

    def update_where(
        self, collection: str, condition: Condition | None, values: dict[str, Any], max_rows: int
    ) -> list[Any]:
        """Update every matching row, or none when more than `max_rows` match (the step fails)."""
        spec = self.registry.check_columns(collection, list(values))
        tbl = _table(spec)
        conn = self._writing(collection)
        with self._bounded_filter(collection):
            old_rows = self._locked_rows(conn, spec, tbl, where_clause(condition, tbl.c), max_rows + 1)
        if len(old_rows) > max_rows:
            raise PermanentActionError(
                f"more than {max_rows} {collection} records match the filter; nothing was changed "
                "(raise max_rows if this is intended)"
            )
        if "updated_at" in spec.columns and "updated_at" not in values:
            values = {**values, "updated_at": func.now()}
        pk = spec.primary_key
        ids = [row[pk] for row in old_rows]
        if ids:
            query = update(tbl).where(tbl.c[pk].in_(ids)).values(**values).returning(*tbl.c)
            new_rows = {r[pk]: _plain(r) for r in conn.execute(query).mappings()}
            for old in old_rows:
                self._changed(collection, "updated", old, new_rows[old[pk]])
        return ids

    def delete_where(self, collection: str, condition: Condition | None, max_rows: int) -> list[Any]:
        spec = self.registry.collection(collection)
        tbl = _table(spec)
        conn = self._writing(collection)
        with self._bounded_filter(collection):
            old_rows = self._locked_rows(conn, spec, tbl, where_clause(condition, tbl.c), max_rows + 1)
        if len(old_rows) > max_rows:
            raise PermanentActionError(
                f"more than {max_rows} {collection} records match the filter; nothing was deleted"
            )
        ids = [row[spec.primary_key] for row in old_rows]
        if ids:
            conn.execute(delete(tbl).where(tbl.c[spec.primary_key].in_(ids)))
            for old in old_rows:
                self._changed(collection, "deleted", old, None)
        return ids

    def insert_ignore(self, collection: str, rows: list[dict[str, Any]]) -> int:
        """Insert rows, skipping those that hit a unique constraint (e.g. a tag already there)."""
        if not rows:
            return 0
        spec = self.registry.check_columns(collection, list({k for r in rows for k in r}))
        tbl = _table(spec)
        result = self._writing(collection).execute(pg_insert(tbl).values(rows).on_conflict_do_nothing())
        return result.rowcount


def records_engine(registry: CollectionsRegistry | None = None, collection: str | None = None) -> Engine:
    """The engine of `collection`'s database (the registry's default connection without one)."""
    registry = registry or get_registry()
    return engine_for(registry.connection_for(collection) if collection else registry.connection_id)


@contextmanager
def record_reader(registry: CollectionsRegistry | None = None) -> Iterator[RecordStore]:
    """A store for reads that opens each database's connection on first use and closes them all after."""
    registry = registry or get_registry()
    with ExitStack() as stack:
        opened: dict[str, Connection] = {}

        def connect(conn_id: str) -> Connection:
            if conn_id not in opened:
                opened[conn_id] = stack.enter_context(engine_for(conn_id).connect())
            return opened[conn_id]

        yield RecordStore(None, registry, connections=connect)
