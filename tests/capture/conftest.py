"""Capture fixtures: the demo CRM (in the automation database) and a second application database on the
session's Postgres, `capture_app` (connection `capture_app`, table shop.orders with an unregistered
`secret` column), a registry naming both, and `psql` to change rows as an application would.

Every test leaves capture off and the `automation_capture` schemas dropped, so the rest of the session
sees the product's usual path (a step appends its record events to the ledger itself)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from automation.records.registry import DEFAULT_REGISTRY
from automation.store.db import engine
from tests.conftest import PG
from tests.helpers import airflow_asset_id

ROOT_DIR = Path(__file__).resolve().parents[2]
APP_DB = "capture_app"
APP_CONN = "capture_app"
CRM_DB = "automation"

APP_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.orders (
    id serial PRIMARY KEY,
    reference text NOT NULL,
    status text NOT NULL DEFAULT 'new',
    total numeric NOT NULL DEFAULT 0,
    secret text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


def psql(database: str, sql: str) -> str:
    """Run `sql` with the real psql client, as an application (or a person) would: its own session."""
    result = PG._run("psql", "-h", PG.host, "-p", str(PG.port), "-U", "postgres", "-d", database,
                     "-v", "ON_ERROR_STOP=1", "-tAc", sql, password=True)  # fmt: skip
    return result.stdout.strip()


def ledger_events(entity: str | None = None) -> list[dict]:
    query = "SELECT * FROM automation.events" + (" WHERE entity = :e" if entity else "") + " ORDER BY id"
    with engine().connect() as conn:
        return [dict(r) for r in conn.execute(text(query), {"e": entity}).mappings()]


def drop_capture(conn_id: str) -> None:
    with engine(conn_id).begin() as conn:
        for table in conn.execute(
            text("SELECT c.oid::regclass::text FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
                 "WHERE g.tgname LIKE 'automation_capture%'")
        ).scalars():  # fmt: skip
            conn.execute(text(f"DROP TRIGGER IF EXISTS automation_capture ON {table}"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS automation_capture_notify ON {table}"))
        conn.execute(text("DROP SCHEMA IF EXISTS automation_capture CASCADE"))


@pytest.fixture(scope="session")
def app_db(migrated: None) -> str:
    """The second application database (created once), reachable as Airflow connection `capture_app`."""
    PG.create_database(APP_DB)
    os.environ[f"AIRFLOW_CONN_{APP_CONN.upper()}"] = PG.url(APP_DB)
    with engine(APP_CONN).begin() as conn:
        conn.execute(text(APP_SCHEMA))
    return APP_CONN


@pytest.fixture
def registry(db: None, app_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo CRM's registry plus `orders_app` (shop.orders in the second database, without `secret`)."""
    data = yaml.safe_load(DEFAULT_REGISTRY.read_text(encoding="utf-8"))
    data["collections"]["orders_app"] = {
        "table": "shop.orders",
        "connection_id": app_db,
        "columns": {"id": "integer", "reference": "string", "status": "string", "total": "number",
                    "updated_at": "datetime"},
    }  # fmt: skip
    path = tmp_path / "collections.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("AIRFLOW__AUTOMATION__COLLECTIONS_FILE", str(path))
    with engine(app_db).begin() as conn:
        conn.execute(text("TRUNCATE shop.orders RESTART IDENTITY"))
    try:
        yield path
    finally:
        for conn_id in ("automation_db", app_db):
            drop_capture(conn_id)


@pytest.fixture
def deals(db: None) -> list[int]:
    """Three demo CRM deals."""
    psql(CRM_DB, "INSERT INTO crm.deals (name, amount, stage) VALUES ('a', 1, 'NEW'), ('b', 2, 'NEW'), ('c', 3, 'NEW')")
    return [int(x) for x in psql(CRM_DB, "SELECT id FROM crm.deals ORDER BY id").split()]


def wait_until(check: Callable[[], object], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@contextmanager
def running_emitter() -> Iterator[None]:
    """The real emitter loop (`automation emitter`) in a thread, stopped at the end."""
    from automation.events import emitter_loop

    stop = threading.Event()
    thread = threading.Thread(
        target=emitter_loop.run_forever, kwargs={"gather_seconds": 0.05, "stop_event": stop, "poll_seconds": 0.5},
        daemon=True,
    )  # fmt: skip
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(20)


@pytest.fixture
def airflow_asset(airflow_db: None) -> Iterator[Callable[[str], int]]:
    """`airflow_asset(uri)`: the id of Airflow's asset `uri`, created as a DAG listening to it would have it;
    the assets created are deleted (with their events) after the test, so other tests see no listener."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    created: list[int] = []

    def get(uri: str) -> int:
        asset, new = airflow_asset_id(uri)
        if new:
            created.append(asset)
        return asset

    yield get
    with create_session() as session:
        session.execute(delete(AssetEvent).where(AssetEvent.asset_id.in_(created)))
        session.execute(delete(AssetModel).where(AssetModel.id.in_(created)))


def asset_event_keys(asset_id: int) -> list[str]:
    """The partition keys (ledger ids) of Airflow's asset events of `asset_id`."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(AssetEvent.partition_key).where(AssetEvent.asset_id == asset_id)))
