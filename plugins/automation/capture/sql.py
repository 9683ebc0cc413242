"""The capture SQL for one application database: the `automation_capture` schema (outbox, effect records,
a NOTIFY on commit) and one trigger function per registered collection.

Invariant: every identifier in the generated SQL comes from the collections registry, is checked against
a plain-identifier pattern here again and is double-quoted; the trigger function copies only the
registry's columns of a row into the outbox (a change to any other column is never written, and an
UPDATE that changed no registered column writes nothing). The product's own record actions set
`automation.origin` / `automation.depth` / `automation.actor` (SET LOCAL) in their transaction, and the
trigger copies them into the outbox row, so loop prevention and depth work as for the ledger's events.
"""

from __future__ import annotations

import re

from automation.errors import RegistryError
from automation.records.registry import Collection

SCHEMA = "automation_capture"
#: the row trigger's name on every captured table (one per table)
TRIGGER = "automation_capture"
#: the statement trigger on every captured table that NOTIFYs the emitter (once per statement, delivered
#: only if the transaction commits; Postgres folds a transaction's equal notifications into one)
NOTIFY_TRIGGER = "automation_capture_notify"
#: the channel the captured tables NOTIFY on
CHANNEL = "automation_capture"
#: session settings the product's own record actions set for the trigger (transaction-local)
ORIGIN_SETTING = "automation.origin"
DEPTH_SETTING = "automation.depth"
ACTOR_SETTING = "automation.actor"

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: jsonb_build_object takes at most 100 arguments: columns are put in chunks of this many pairs
_CHUNK = 40


def quote(name: str) -> str:
    """A double-quoted identifier; refuses anything but a plain lowercase identifier."""
    if not _IDENT.match(name):
        raise RegistryError(
            f"{name!r} is not a plain lowercase identifier of at most 63 characters; capture needs one "
            "(rename the collection or column in the registry)"
        )
    return f'"{name}"'


def literal(value: str) -> str:
    """A SQL string literal of a plain identifier (checked like `quote`)."""
    quote(value)
    return f"'{value}'"


def table_name(spec: Collection) -> str:
    return f"{quote(spec.schema_name)}.{quote(spec.table_name)}"


SCHEMA_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.outbox (
    id bigserial PRIMARY KEY,
    collection text NOT NULL,
    event text NOT NULL,
    entity_id text,
    old_data jsonb,
    new_data jsonb,
    changed text[],
    origin text,
    depth integer NOT NULL DEFAULT 0,
    actor text,
    txid bigint NOT NULL DEFAULT txid_current(),
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.effects (
    dag_id varchar(250) NOT NULL,
    run_id varchar(250) NOT NULL,
    task_id varchar(250) NOT NULL,
    map_index integer NOT NULL DEFAULT -1,
    action varchar(64) NOT NULL,
    output jsonb,
    try_number integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, run_id, task_id, map_index)
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.drained (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id bigint NOT NULL,
    last_at timestamptz NOT NULL
);
CREATE OR REPLACE FUNCTION {SCHEMA}.notify() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $f$;
"""


def _row_json(record: str, columns: list[str]) -> str:
    """`jsonb_build_object('a', NEW."a", ...)` for the registered columns (chunks joined with ||)."""
    parts = []
    for start in range(0, len(columns), _CHUNK):
        pairs = ", ".join(f"{literal(c)}, {record}.{quote(c)}" for c in columns[start : start + _CHUNK])
        parts.append(f"jsonb_build_object({pairs})")
    return " || ".join(parts) if parts else "'{}'::jsonb"


def _changed(columns: list[str]) -> str:
    """plpgsql appending each registered column whose value changed to `changed` (no query per row)."""
    return "\n".join(
        f"        IF OLD.{quote(c)} IS DISTINCT FROM NEW.{quote(c)} THEN "
        f"changed := changed || {literal(c)}::text; END IF;"
        for c in columns
    )


def install_sql(name: str, spec: Collection) -> str:
    """The trigger function and trigger capturing `name`'s registered columns (replaces an earlier one)."""
    columns = sorted(spec.columns)
    pk = quote(spec.primary_key)
    fn = f"{SCHEMA}.{quote('capture_' + name)}"
    return f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    o jsonb;
    n jsonb;
    changed text[];
    entity_id text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := {_row_json("OLD", columns)};
        entity_id := OLD.{pk}::text;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := {_row_json("NEW", columns)};
        entity_id := NEW.{pk}::text;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        changed := '{{}}';
{_changed(columns)}
        IF cardinality(changed) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO {SCHEMA}.outbox (collection, event, entity_id, old_data, new_data, changed, origin, depth, actor)
    VALUES ({literal(name)},
            CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END,
            entity_id, o, n, changed,
            nullif(current_setting('{ORIGIN_SETTING}', true), ''),
            coalesce(nullif(current_setting('{DEPTH_SETTING}', true), '')::integer, 0),
            nullif(current_setting('{ACTOR_SETTING}', true), ''));
    RETURN NULL;
END $f$;
DROP TRIGGER IF EXISTS {TRIGGER} ON {table_name(spec)};
CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {table_name(spec)}
    FOR EACH ROW EXECUTE FUNCTION {fn}();
DROP TRIGGER IF EXISTS {NOTIFY_TRIGGER} ON {table_name(spec)};
CREATE TRIGGER {NOTIFY_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {table_name(spec)}
    FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.notify();
"""


def uninstall_sql(name: str, spec: Collection) -> str:
    return f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON {table_name(spec)};
DROP TRIGGER IF EXISTS {NOTIFY_TRIGGER} ON {table_name(spec)};
DROP FUNCTION IF EXISTS {SCHEMA}.{quote("capture_" + name)}();
"""
