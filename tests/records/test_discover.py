"""`discover` drafts a registry from a real Postgres schema, and what it prints loads as a registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from automation.errors import NotFoundError, RegistryError
from automation.local.embedded_db import EmbeddedPostgres
from automation.records.discover import discover, singular
from automation.records.registry import CollectionsRegistry

#: a schema with most of what a real one holds: every mapped type, a domain, an enum, unsupported types,
#: foreign keys of every kind, a composite key, a table without a key, weird names, a view, partitions
SHOP = r"""
DROP SCHEMA IF EXISTS shop CASCADE;
DROP SCHEMA IF EXISTS other CASCADE;
CREATE SCHEMA shop;
CREATE SCHEMA other;
CREATE TABLE other.regions (id serial PRIMARY KEY, name text);
CREATE DOMAIN shop.money_amount AS numeric(12, 2) CHECK (VALUE >= 0);
CREATE DOMAIN shop.positive_amount AS shop.money_amount CHECK (VALUE > 0);
CREATE TYPE shop.status AS ENUM ('new', 'paid');
CREATE TABLE shop.users (
    id bigserial PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, name text, code char(3), active boolean,
    created_at timestamptz, seen_at timestamp, born date, settings jsonb, raw json, score double precision,
    ratio real, small smallint, uid uuid, photo bytea, tags text[], wake_at time, "Nick Name" text,
    region_id integer REFERENCES other.regions (id)
);
CREATE TABLE shop.categories (id integer PRIMARY KEY, name text, parent_id integer REFERENCES shop.categories (id));
CREATE TABLE shop.orders (
    id serial PRIMARY KEY, total shop.positive_amount, status shop.status, customer_id bigint REFERENCES shop.users (id),
    buyer bigint REFERENCES shop.users (id), customer text,
    customer_email varchar(200) REFERENCES shop.users (email),
    net numeric GENERATED ALWAYS AS (total * 0.8) STORED
);
CREATE TABLE shop.order_lines (
    order_id integer REFERENCES shop.orders (id), line integer, product text, PRIMARY KEY (order_id, line)
);
CREATE TABLE shop.audit (at timestamptz, what text, ref text NOT NULL UNIQUE, alt text UNIQUE, photo bytea UNIQUE NOT NULL);
CREATE TABLE shop.shipments (
    id integer PRIMARY KEY, order_id integer, line integer, category_id integer REFERENCES shop.categories (id),
    FOREIGN KEY (order_id, line) REFERENCES shop.order_lines (order_id, line)
);
CREATE TABLE shop.notes (id integer PRIMARY KEY, "on" text, "null" integer, "user" text, yes boolean,
                         audit_id integer);
CREATE TABLE shop."on" ("null" integer PRIMARY KEY, yes_id integer REFERENCES shop."on" ("null"), off boolean);
CREATE TABLE shop."Weird Table" (id integer PRIMARY KEY);
CREATE TABLE shop."x
connection_id: injected" (id integer PRIMARY KEY);
CREATE TABLE shop.blobs (ref bytea PRIMARY KEY, note text);
CREATE TABLE shop.links (id integer PRIMARY KEY, weird_id integer REFERENCES shop."Weird Table" (id),
                         blob bytea REFERENCES shop.blobs (ref), line_order integer, line_no integer);
CREATE TABLE shop.events (id bigint, at date, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE shop.events_1 PARTITION OF shop.events FOR VALUES FROM (0) TO (1000);
CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE total > 100;
"""


@pytest.fixture(scope="module")
def shop(pg: EmbeddedPostgres) -> Iterator[Engine]:
    pg.create_database("discover")
    engine = create_engine(pg.url("discover"))
    with engine.begin() as conn:
        conn.execute(text(SHOP))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def printed(shop: Engine) -> str:
    with shop.connect() as conn:
        return discover(conn, "shop_db", "shop").to_yaml()


def test_the_printed_registry_loads_with_each_table_its_columns_keys_and_relations(printed: str) -> None:
    registry = CollectionsRegistry.model_validate(yaml.safe_load(printed))
    assert registry.connection_id == "shop_db"
    assert sorted(registry.collections) == [
        "categories", "events", "links", "notes", "on", "orders", "shipments", "users"
    ]  # fmt: skip
    users = registry.collection("users")
    assert users.table == "shop.users"
    assert users.primary_key == "id"
    assert users.columns == {
        "id": "integer", "email": "string", "name": "string", "code": "string", "active": "boolean",
        "created_at": "datetime", "seen_at": "datetime", "born": "date", "settings": "json", "raw": "json",
        "score": "number", "ratio": "number", "small": "integer", "uid": "string", "region_id": "integer",
    }  # fmt: skip
    assert users.relations == {}  # region_id references another schema
    orders = registry.collection("orders")
    # a domain over a domain over numeric is a number, an enum a string, a generated column is readable
    assert orders.columns == {"id": "integer", "total": "number", "status": "string", "customer_id": "integer",
                              "buyer": "integer", "customer": "string", "customer_email": "string",
                              "net": "number"}  # fmt: skip
    assert {name: (r.column, r.collection) for name, r in orders.relations.items()} == {
        # customer_id -> "customer" is a column: the referenced table's singular name is the next choice
        "user": ("customer_id", "users"),
        # no `_id` suffix: the referenced table's singular name is taken by then, so it is left out
    }
    categories = registry.collection("categories")
    assert {name: (r.column, r.collection) for name, r in categories.relations.items()} == {
        "parent": ("parent_id", "categories")
    }
    shipments = registry.collection("shipments")
    assert {name: (r.column, r.collection) for name, r in shipments.relations.items()} == {
        "category": ("category_id", "categories")
    }
    assert registry.collection("events").columns == {"id": "integer", "at": "date"}
    assert registry.collection("notes").columns == {
        "id": "integer", "on": "string", "null": "integer", "user": "string", "yes": "boolean", "audit_id": "integer"
    }  # fmt: skip


def test_what_the_registry_cannot_express_is_left_out_with_a_comment(printed: str) -> None:
    comments = "\n".join(line for line in printed.splitlines() if line.lstrip().startswith("#"))
    flat = " ".join(part.strip().lstrip("#").strip() for part in comments.splitlines())
    assert '"photo" left out: type "bytea" has no registry type' in flat
    assert '"tags" left out: type "text[]"' in flat
    assert '"wake_at" left out: type "time without time zone"' in flat
    assert 'column "Nick Name" left out: not a plain lowercase identifier' in flat
    assert (
        'order_lines: composite primary key ("order_id", "line"); the registry needs a one-column key, so none was picked'
        in flat
    )
    assert "audit: no primary key" in flat
    assert 'set primary_key to a unique, not-null column). Unique, not-null column(s) of the table: "ref"' in flat
    assert 'blobs: primary key column "ref" is left out' in flat
    assert 'table "Weird Table" left out: its name is not a plain lowercase identifier' in flat
    assert 'table "x\\nconnection_id: injected" left out' in flat
    assert 'views left out (no primary key to write by): "big_orders"' in flat
    assert "1 partition(s) left out" in flat
    assert (
        'foreign key "users_region_id_fkey" ("region_id") left out: it references "other.regions", in another schema'
        in flat
    )
    assert (
        'foreign key "shipments_order_id_line_fkey" ("order_id", "line") left out: a relation follows one column'
        in flat
    )
    assert '("customer_email") left out: it references "users"."email", not its primary key' in flat
    assert '("buyer") left out: its relation\'s name ("user") is taken' in flat
    assert '("weird_id") left out: table "Weird Table" is not a collection here' in flat
    assert '("blob") left out: its column is left out' in flat
    assert 'column "net" is generated: reads only, a write fails' in flat


def test_a_left_out_collection_is_printed_commented_out_and_loads_once_uncommented(printed: str) -> None:
    lines = printed.splitlines()
    start = lines.index("  # order_lines:")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  #   "))
    block = [line.replace("  # ", "  ", 1) for line in lines[start:end]]
    assert block[:2] == ["  order_lines:", "    table: shop.order_lines"]
    edited = [*lines[:start], *block, "    primary_key: line", *lines[end:]]
    registry = CollectionsRegistry.model_validate(yaml.safe_load("\n".join(edited)))
    spec = registry.collection("order_lines")
    assert spec.columns == {"order_id": "integer", "line": "integer", "product": "string"}
    assert spec.relations["order"].collection == "orders"


def test_names_yaml_would_misread_are_quoted(printed: str) -> None:
    on = CollectionsRegistry.model_validate(yaml.safe_load(printed)).collection("on")
    assert (on.table, on.primary_key, on.columns) == ("shop.on", "null", {"null": "integer", "yes_id": "integer",
                                                                          "off": "boolean"})  # fmt: skip
    assert on.relations["yes"].model_dump() == {"column": "yes_id", "collection": "on"}
    assert '  "on":\n    table: shop.on\n    primary_key: "null"\n' in printed
    assert '      "yes": {column: yes_id, collection: "on"}' in printed
    # `on`, `yes` and `null` are booleans and null to YAML 1.1 unless quoted
    assert '      "on": string' in printed
    assert '      "null": integer' in printed
    assert '      "yes": boolean' in printed
    assert "      user: string" in printed


def test_per_collection_connections_name_the_connection_in_each_collection(shop: Engine) -> None:
    with shop.connect() as conn:
        found = discover(conn, "shop_db", "shop", tables=["users", "categories"])
    registry = CollectionsRegistry.model_validate(yaml.safe_load(found.to_yaml(per_collection=True)))
    assert sorted(registry.collections) == ["categories", "users"]
    assert registry.collection("users").connection_id == "shop_db"
    assert registry.connection_ids() == {"shop_db"}


def test_named_tables_only_and_a_missing_one_is_said(shop: Engine) -> None:
    with shop.connect() as conn:
        found = discover(conn, "shop_db", "shop", tables=["orders", "nope"])
    printed = found.to_yaml()
    registry = CollectionsRegistry.model_validate(yaml.safe_load(printed))
    assert sorted(registry.collections) == ["orders"]
    assert registry.collection("orders").relations == {}  # users is not among the named tables
    assert 'no such table in the schema: "nope"' in printed


def test_an_empty_schema_prints_an_empty_registry(shop: Engine) -> None:
    with shop.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS empty"))
    with shop.connect() as conn:
        printed = discover(conn, "shop_db", "empty").to_yaml()
    assert CollectionsRegistry.model_validate(yaml.safe_load(printed)).collections == {}


def test_a_missing_schema_or_a_bad_name_is_refused_before_any_table_is_read(shop: Engine) -> None:
    with shop.connect() as conn:
        with pytest.raises(NotFoundError, match=r'schema "nope" does not exist'):
            discover(conn, "shop_db", "nope")
        with pytest.raises(RegistryError, match=r"not a plain lowercase identifier"):
            discover(conn, "shop_db", "shop; DROP TABLE shop.users")
        with pytest.raises(RegistryError, match=r'table "Users" is not a plain lowercase identifier'):
            discover(conn, "shop_db", "shop", tables=["Users"])
        assert conn.execute(text("SELECT count(*) FROM shop.users")).scalar() == 0


def test_the_connection_writes_again_after_the_read_only_discovery(shop: Engine) -> None:
    with shop.connect() as conn:
        discover(conn, "shop_db", "shop")
        # the discovery's transaction was read only and is over: this connection writes again
        with conn.begin():
            conn.execute(
                text("INSERT INTO shop.audit (at, what, ref, photo) VALUES (now(), 'after discovery', 'r', '')")
            )


@pytest.mark.parametrize(
    ("plural", "one"),
    [("users", "user"), ("categories", "category"), ("boxes", "box"), ("addresses", "address"),
     ("status", "status"), ("data", "data"), ("churches", "church")],
)  # fmt: skip
def test_singular(plural: str, one: str) -> None:
    assert singular(plural) == one
