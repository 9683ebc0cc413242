"""A collections registry drafted from a database schema, for a person to review.

Invariant: the catalogue is only read (a read-only transaction; the schema name is an allow-listed identifier
and every value is a bound parameter), and what `Discovery.to_yaml` prints loads as a valid
`CollectionsRegistry`: whatever the registry cannot express (a table or column name that is not a plain
lowercase identifier, a type it has no name for, a table without a one-column primary key, a foreign key it
cannot follow) is left out and said so in a YAML comment, where every database name is JSON-escaped (no name
can end a comment and become YAML). `drift` reads the same catalogue to say where a registry and its
databases disagree."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, text

from automation.errors import Issue, NotFoundError, RegistryError
from automation.records.registry import (
    CONN_ID_PATTERN,
    SAFE_LOADER,
    Collection,
    CollectionsRegistry,
    ColumnType,
    is_identifier,
)

#: tables one discovery reads at most (name some with `tables` for a larger schema)
MAX_TABLES = 500
#: the catalogue queries' statement timeout
STATEMENT_TIMEOUT_MS = 30_000

#: pg_catalog base types (domains resolved) -> registry column types; enums and citext are strings too
PG_TYPES: dict[str, ColumnType] = {
    "int2": "integer",
    "int4": "integer",
    "int8": "integer",
    "numeric": "number",
    "float4": "number",
    "float8": "number",
    "text": "string",
    "varchar": "string",
    "bpchar": "string",
    "name": "string",
    "uuid": "string",
    "bool": "boolean",
    "timestamp": "datetime",
    "timestamptz": "datetime",
    "date": "date",
    "json": "json",
    "jsonb": "json",
}

_TABLES = text(
    """
    SELECT c.oid, c.relname, c.relkind, c.relispartition
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
      AND (CAST(:names AS text[]) IS NULL OR c.relname = ANY(CAST(:names AS text[])))
    ORDER BY c.relname
    LIMIT :limit
    """
)

#: each column with its type after domains are resolved (a domain over a domain too)
_COLUMNS = text(
    """
    WITH RECURSIVE resolved(start, oid, depth) AS (
        SELECT t.oid, t.oid, 0 FROM pg_catalog.pg_type t
        WHERE t.oid IN (SELECT a.atttypid FROM pg_catalog.pg_attribute a WHERE a.attrelid IN :oids)
        UNION ALL
        SELECT r.start, t.typbasetype, r.depth + 1
        FROM resolved r JOIN pg_catalog.pg_type t ON t.oid = r.oid
        WHERE t.typtype = 'd' AND r.depth < 32
    )
    SELECT a.attrelid, a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS declared,
           bt.typname AS base, bn.nspname AS base_schema, bt.typtype AS kind, a.attgenerated AS generated,
           a.attnotnull AS not_null
    FROM pg_catalog.pg_attribute a
    JOIN resolved r ON r.start = a.atttypid
    JOIN pg_catalog.pg_type bt ON bt.oid = r.oid AND bt.typtype <> 'd'
    JOIN pg_catalog.pg_namespace bn ON bn.oid = bt.typnamespace
    WHERE a.attrelid IN :oids AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attrelid, a.attnum
    """
).bindparams(bindparam("oids", expanding=True))

_CONSTRAINTS = text(
    """
    SELECT con.conrelid, con.contype, con.conname, con.conkey, con.confrelid, con.confkey,
           fc.relname AS ref_table, fn.nspname AS ref_schema
    FROM pg_catalog.pg_constraint con
    LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
    LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE con.conrelid IN :oids AND con.contype IN ('p', 'f', 'u')
    ORDER BY con.conrelid, con.contype DESC, con.conkey, con.conname
    """
).bindparams(bindparam("oids", expanding=True))


_PLAIN = re.compile(r"[a-z_][a-z0-9_.]*")


def quoted(name: str) -> str:
    """A database name for a YAML comment: JSON-escaped ASCII, so no character of it breaks a line."""
    return json.dumps(name, ensure_ascii=True)


@cache
def _yaml_scalar(value: str) -> str:
    """`value` as YAML reads it back as the same string: plain when it is a lowercase name YAML reads as
    itself, else double-quoted (`on`, `yes`, `null` would be read as a boolean or null)."""
    if not _PLAIN.fullmatch(value):
        return quoted(value)
    try:
        plain_reads_back = yaml.load(value, Loader=SAFE_LOADER) == value
    except yaml.YAMLError:
        plain_reads_back = False
    return value if plain_reads_back else quoted(value)


def singular(name: str) -> str:
    """The English singular of a plural table name, by the common rules (categories -> category)."""
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes", "zes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith(("ss", "us", "is")) and len(name) > 1:
        return name[:-1]
    return name


@dataclass
class DiscoveredCollection:
    name: str
    table: str
    columns: dict[str, ColumnType] = field(default_factory=dict)
    primary_key: str | None = None
    relations: dict[str, dict[str, str]] = field(default_factory=dict)
    #: comments printed above the collection's columns (left-out columns, relations)
    notes: list[str] = field(default_factory=list)
    #: why the collection is printed commented out, if it is
    left_out: str | None = None
    #: every column of the table, with its declared type (for comparing a registry with the database)
    declared: dict[str, str] = field(default_factory=dict)
    #: the table's primary key columns, whatever their number
    key: list[str] = field(default_factory=list)
    #: registered columns that are not null and unique on their own: what could serve as a primary key
    candidates: list[str] = field(default_factory=list)
    not_null: set[str] = field(default_factory=set)

    def as_dict(self, connection_id: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"table": self.table, "primary_key": self.primary_key, "columns": dict(self.columns)}
        if self.relations:
            spec["relations"] = dict(self.relations)
        if connection_id:
            spec["connection_id"] = connection_id
        return spec


@dataclass
class Discovery:
    """What a schema holds, as registry collections plus notes on what was left out."""

    connection_id: str
    schema: str
    collections: list[DiscoveredCollection] = field(default_factory=list)
    #: the schema's views with their columns: not collections (no key to write by), but a registry may name one
    views: dict[str, DiscoveredCollection] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def usable(self) -> list[DiscoveredCollection]:
        return [c for c in self.collections if c.left_out is None]

    def registry(self, per_collection: bool = False) -> CollectionsRegistry:
        """The discovered collections as a registry (what `to_yaml` prints, without its comments)."""
        conn = self.connection_id if per_collection else None
        return CollectionsRegistry.model_validate(
            {"connection_id": self.connection_id, "collections": {c.name: c.as_dict(conn) for c in self.usable()}}
        )

    def to_yaml(self, per_collection: bool = False) -> str:
        """The registry file, with comments on everything left out. `per_collection` writes the connection
        into each collection too, for merging them into a registry whose own connection is another."""
        intro = (
            f"Collections discovered in schema {quoted(self.schema)} of Airflow connection "
            f"{quoted(self.connection_id)}. A draft to review: remove what actions must not touch, then point "
            "[automation] collections_file at it (or merge its collections into your registry) and check it "
            "with `automation registry check FILE`. Registry types: integer, number, string, boolean, datetime, "
            "date, json; columns of other types are left out."
        )
        lines = [
            *comment(intro, ""),
            *(line for note in self.notes for line in comment(note, "")),
            f"connection_id: {_yaml_scalar(self.connection_id)}",
        ]
        if not self.usable():
            lines.append("collections: {}")
        else:
            lines.append("collections:")
        for collection in self.collections:
            lines += _collection_lines(collection, self.connection_id if per_collection else None)
        printed = "\n".join(lines) + "\n"
        try:
            loaded: CollectionsRegistry | None = CollectionsRegistry.model_validate(
                yaml.load(printed, Loader=SAFE_LOADER)
            )
        except (ValidationError, yaml.YAMLError):
            loaded = None
        if loaded != self.registry(per_collection):  # what is printed must load as itself: fail here, not later
            raise RegistryError(f"the drafted registry of schema {quoted(self.schema)} does not read back as drafted")
        return printed


def comment(text_: str, indent: str) -> list[str]:
    """`text_` as YAML comment lines (wrapped; its names are already `quoted`, so it holds no line break)."""
    width = max(40, 110 - len(indent))
    return [f"{indent}# {line}" for line in textwrap.wrap(text_, width, break_long_words=False, break_on_hyphens=False)]


def _collection_lines(collection: DiscoveredCollection, connection_id: str | None) -> list[str]:
    """The collection's lines at its indentation; commented out (after the reason) when it is left out."""
    body = [f"table: {_yaml_scalar(collection.table)}"]
    if collection.primary_key is not None:
        body.append(f"primary_key: {_yaml_scalar(collection.primary_key)}")
    if connection_id:
        body.append(f"connection_id: {_yaml_scalar(connection_id)}")
    body.append("columns:" if collection.columns else "columns: {}")
    body += [f"  {_yaml_scalar(name)}: {kind}" for name, kind in collection.columns.items()]
    if collection.relations:
        body.append("relations:")
        for name, relation in collection.relations.items():
            column, target = _yaml_scalar(relation["column"]), _yaml_scalar(relation["collection"])
            body.append(f"  {_yaml_scalar(name)}: {{column: {column}, collection: {target}}}")
    if collection.left_out is not None:
        return [
            *comment(f"{collection.name}: {collection.left_out}", "  "),
            *(line for note in collection.notes for line in comment(note, "  ")),
            f"  # {collection.name}:",
            *(f"  #   {line}" for line in body),
        ]
    notes = [line for note in collection.notes for line in comment(note, "    ")]
    return [f"  {_yaml_scalar(collection.name)}:", *notes, *(f"    {line}" for line in body)]


def _check_schema(schema: str) -> None:
    if not is_identifier(schema):
        raise RegistryError(
            f"schema {quoted(schema)} is not a plain lowercase identifier ([a-z_][a-z0-9_]*, at most 63): "
            "the registry can only name such schemas"
        )


def discover(conn: Connection, connection_id: str, schema: str, tables: list[str] | None = None) -> Discovery:
    """Read `schema`'s tables, columns, primary keys and foreign keys through `conn` (read only)."""
    _check_schema(schema)
    if not re.fullmatch(CONN_ID_PATTERN, connection_id):
        raise RegistryError(f"{quoted(connection_id)} is not an Airflow connection id")
    for name in tables or []:
        if not is_identifier(name):
            raise RegistryError(f"table {quoted(name)} is not a plain lowercase identifier")
    with conn.begin():
        conn.execute(text("SET TRANSACTION READ ONLY"))
        conn.execute(text(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}"))
        found = conn.execute(text("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :s"), {"s": schema}).first()
        if found is None:
            raise NotFoundError(
                f"schema {quoted(schema)} does not exist in the database of connection {connection_id!r}"
            )
        relations = conn.execute(_TABLES, {"schema": schema, "names": tables or None, "limit": MAX_TABLES + 1}).all()
        if len(relations) > MAX_TABLES:
            raise RegistryError(
                f"schema {quoted(schema)} has more than {MAX_TABLES} tables and views; "
                "name the ones to register (--table, repeatable)"
            )
        table_oids = [row.oid for row in relations if not row.relispartition]
        columns = conn.execute(_COLUMNS, {"oids": table_oids}).all() if table_oids else []
        constraints = conn.execute(_CONSTRAINTS, {"oids": table_oids}).all() if table_oids else []
    return _build(connection_id, schema, relations, columns, constraints, tables)


def _build(
    connection_id: str,
    schema: str,
    relations: Sequence[Any],
    columns: Sequence[Any],
    constraints: Sequence[Any],
    tables: list[str] | None,
) -> Discovery:
    discovery = Discovery(connection_id=connection_id, schema=schema)
    views = [row.relname for row in relations if row.relkind in ("v", "m")]
    partitions = [row.relname for row in relations if row.relkind in ("r", "p", "f") and row.relispartition]
    if views:
        discovery.notes.append(f"views left out (no primary key to write by): {', '.join(map(quoted, views))}")
    if partitions:
        discovery.notes.append(f"{len(partitions)} partition(s) left out: their partitioned tables are listed")
    missing = sorted(set(tables or []) - {row.relname for row in relations})
    if missing:
        discovery.notes.append(f"no such table in the schema: {', '.join(map(quoted, missing))}")

    by_oid: dict[int, DiscoveredCollection] = {}
    names: dict[tuple[int, int], str] = {}  # (table oid, attnum) -> column name, for keys
    for row in relations:
        if row.relispartition or not is_identifier(row.relname):
            if not row.relispartition and row.relkind not in ("v", "m"):
                discovery.notes.append(f"table {quoted(row.relname)} left out: its name is not a plain lowercase "
                                       "identifier (rename it to register it)")  # fmt: skip
            continue
        collection = DiscoveredCollection(name=row.relname, table=f"{schema}.{row.relname}")
        by_oid[row.oid] = collection
        if row.relkind in ("v", "m"):
            discovery.views[row.relname] = collection
        else:
            discovery.collections.append(collection)

    for col in columns:
        owner = by_oid.get(col.attrelid)
        if owner is None:
            continue
        names[(col.attrelid, col.attnum)] = col.attname
        owner.declared[col.attname] = col.declared
        if col.not_null:
            owner.not_null.add(col.attname)
        kind = _column_type(col)
        if not is_identifier(col.attname):
            owner.notes.append(f"column {quoted(col.attname)} left out: not a plain lowercase identifier")
        elif kind is None:
            owner.notes.append(
                f"column {quoted(col.attname)} left out: type {quoted(col.declared)} has no registry type"
            )
        else:
            owner.columns[col.attname] = kind
            if col.generated:
                owner.notes.append(f"column {quoted(col.attname)} is generated: reads only, a write fails")

    foreign_keys = []
    for con in constraints:
        constrained = by_oid.get(con.conrelid)
        if constrained is None:
            continue
        key = [names.get((con.conrelid, n), "?") for n in con.conkey]
        if con.contype == "p":
            _primary_key(constrained, key)
        elif con.contype == "u":
            if len(key) == 1 and key[0] in constrained.columns and key[0] in constrained.not_null:
                constrained.candidates.append(key[0])
        else:
            foreign_keys.append(con)
    for collection in discovery.collections:
        if collection.primary_key is None and collection.left_out is None:
            collection.left_out = (
                "no primary key; the registry needs a one-column key, so the collection is left out. To register "
                "it, add one to the table (or uncomment this and set primary_key to a unique, not-null column)"
            )
        if collection.left_out is not None and collection.candidates:
            columns = ", ".join(map(quoted, sorted(set(collection.candidates))))
            collection.left_out += f". Unique, not-null column(s) of the table: {columns}"
    for con in foreign_keys:
        _relation(by_oid[con.conrelid], con, by_oid, names, schema)
    return discovery


def _column_type(col: Any) -> ColumnType | None:
    if col.kind == "e":  # an enum: its labels are text
        return "string"
    if col.base == "citext":  # the extension's case-insensitive text, in whichever schema it lives
        return "string"
    if col.base_schema != "pg_catalog":
        return None
    return PG_TYPES.get(col.base)


def _primary_key(collection: DiscoveredCollection, key: list[str]) -> None:
    collection.key = key
    if len(key) != 1:
        collection.left_out = (
            f"composite primary key ({', '.join(map(quoted, key))}); the registry needs a one-column key, so none "
            "was picked and the collection is left out. To register it, uncomment this and set primary_key to a "
            "unique, not-null column"
        )
    elif key[0] not in collection.columns:
        collection.left_out = f"primary key column {quoted(key[0])} is left out (see below), so the collection is too"
    else:
        collection.primary_key = key[0]


def _relation(
    collection: DiscoveredCollection,
    con: Any,
    by_oid: dict[int, DiscoveredCollection],
    names: dict[tuple[int, int], str],
    schema: str,
) -> None:
    columns = [names.get((con.conrelid, n), "?") for n in con.conkey]
    label = f"foreign key {quoted(con.conname)} ({', '.join(map(quoted, columns))})"
    target = by_oid.get(con.confrelid)
    if len(columns) != 1:
        collection.notes.append(f"{label} left out: a relation follows one column")
        return
    column = columns[0]
    if column not in collection.columns:
        collection.notes.append(f"{label} left out: its column is left out")
        return
    if con.ref_schema != schema:
        collection.notes.append(f"{label} left out: it references {quoted(f'{con.ref_schema}.{con.ref_table}')}, "
                                "in another schema")  # fmt: skip
        return
    if target is None or target.left_out is not None:
        collection.notes.append(f"{label} left out: table {quoted(con.ref_table)} is not a collection here")
        return
    referenced = names.get((con.confrelid, con.confkey[0]))
    if referenced != target.primary_key:
        collection.notes.append(f"{label} left out: it references {quoted(con.ref_table)}.{quoted(referenced or '?')}, "
                                f"not its primary key")  # fmt: skip
        return
    candidates = [column[: -len("_id")]] if column.endswith("_id") else []
    candidates.append(singular(target.name))
    taken = set(collection.columns) | set(collection.relations)
    name = next((c for c in candidates if is_identifier(c) and c not in taken), None)
    if name is None:
        collection.notes.append(f"{label} left out: its relation's name ({' or '.join(map(quoted, candidates))}) "
                                "is taken by a column or another relation; add it under another name")  # fmt: skip
        return
    collection.relations[name] = {"column": column, "collection": target.name}


#: a registry type that reads a column of another type correctly (an integer is a number)
_COMPATIBLE = {("number", "integer")}


def drift(registry: CollectionsRegistry, connect: Callable[[str], AbstractContextManager[Connection]]) -> list[Issue]:
    """Where `registry` and the databases it names disagree: a table or column that is not there, a column
    whose type is another, a primary key that is not the table's. `connect(conn_id)` opens a connection."""
    issues: list[Issue] = []
    by_place: dict[tuple[str, str], list[str]] = {}
    for name, spec in registry.collections.items():
        by_place.setdefault((registry.connection_for(name), spec.schema_name), []).append(name)
    for (conn_id, schema), names in sorted(by_place.items()):
        tables = sorted({registry.collections[name].table_name for name in names})
        with connect(conn_id) as conn:
            try:
                found = discover(conn, conn_id, schema, tables=tables)
            except NotFoundError as exc:
                issues += [Issue(f"collections.{name}.table", str(exc)) for name in names]
                continue
        in_db = {collection.table: collection for collection in [*found.collections, *found.views.values()]}
        for name in names:
            spec = registry.collections[name]
            issues += _collection_drift(name, spec, in_db.get(spec.table), conn_id)
    return issues


def _shown(declared: str) -> str:
    """A declared type for a message: as Postgres prints it, or JSON-escaped if it holds anything unprintable."""
    return declared if re.fullmatch(r"[ -~]{1,200}", declared) else quoted(declared)


def _collection_drift(name: str, spec: Collection, table: DiscoveredCollection | None, conn_id: str) -> list[Issue]:
    path = f"collections.{name}"
    if table is None:
        return [Issue(f"{path}.table", f"no table {spec.table} in the database of connection {conn_id!r}")]
    issues = []
    for column, kind in spec.columns.items():
        if column not in table.declared:
            message = f"{spec.table} has no column {column!r}; its columns: {sorted(table.declared)}"
            issues.append(Issue(f"{path}.columns.{column}", message))
            continue
        actual, declared = table.columns.get(column), _shown(table.declared[column])
        if actual is None:
            message = f"{spec.table}.{column} is {declared}, which has no registry type"
            issues.append(Issue(f"{path}.columns.{column}", message))
        elif actual != kind and (kind, actual) not in _COMPATIBLE:
            message = f"{spec.table}.{column} is {declared}: its registry type is {actual!r}, not {kind!r}"
            issues.append(Issue(f"{path}.columns.{column}", message))
    if len(table.key) == 1 and table.key != [spec.primary_key]:
        message = f"{spec.table}'s primary key is {table.key[0]!r}, not {spec.primary_key!r}"
        issues.append(Issue(f"{path}.primary_key", message))
    return issues
