"""Engines for the definitions database (and any other Postgres named by an Airflow connection)."""

from __future__ import annotations

import json
import os
from functools import cache
from urllib.parse import quote

from sqlalchemy import Engine, create_engine

from automation.config import DB_CONN_ID, db_connect_timeout, db_pool_timeout
from automation.errors import StoreError


def _url_from_json(raw: str) -> str:
    conn = json.loads(raw)
    auth = quote(conn.get("login") or "", safe="")
    if conn.get("password"):
        auth += ":" + quote(conn["password"], safe="")
    host = conn.get("host") or "127.0.0.1"
    port = f":{conn['port']}" if conn.get("port") else ""
    return f"postgresql://{auth}{'@' if auth else ''}{host}{port}/{conn.get('schema') or ''}"


def database_url(conn_id: str = DB_CONN_ID) -> str:
    """URL of an Airflow connection: the env var first (no Airflow import), then Airflow's lookup."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if raw is None:
        try:
            from airflow.sdk import BaseHook

            raw = BaseHook.get_connection(conn_id).get_uri()
        except Exception as exc:
            raise StoreError(
                f"Airflow connection {conn_id!r} is not defined; set AIRFLOW_CONN_{conn_id.upper()}="
                "postgresql://user:pass@host:port/db or create it with `airflow connections add`"
            ) from exc
    url = _url_from_json(raw) if raw.lstrip().startswith("{") else raw
    for prefix in ("postgres://", "postgresql+psycopg2://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    raise StoreError(f"connection {conn_id!r} must be a Postgres URL (postgresql://...), got {url.split(':')[0]}")


@cache
def _engine(url: str, ingest: bool) -> Engine:
    return create_engine(
        url,
        connect_args={"connect_timeout": db_connect_timeout(), "application_name": "airflow-automations"},
        pool_pre_ping=not ingest,
        pool_recycle=1800,
        **({"isolation_level": "AUTOCOMMIT"} if ingest else {}),
        # an api-server worker serves requests concurrently: a smaller pool opened and closed an
        # overflow connection (a new Postgres backend) for most requests under load
        pool_size=10,
        max_overflow=10,
        # ingest requests (events, webhooks) wait only a few seconds for a pooled connection, then
        # answer 503 + Retry-After instead of hanging 30 s (SQLAlchemy's default) in a burst
        **({"pool_timeout": db_pool_timeout()} if ingest else {}),
    )


def engine(conn_id: str = DB_CONN_ID) -> Engine:
    return _engine(database_url(conn_id), False)


def ingest_engine(conn_id: str = DB_CONN_ID) -> Engine:
    """For units of work that are one idempotent statement, retried once by their caller when the
    connection turns out dead (`is_disconnect`), like the events API's insert: no pre-ping and no
    BEGIN/COMMIT, so one round trip per request instead of three. Its pool timeout is short
    (`AUTOMATION_DB_POOL_TIMEOUT`): a request that cannot get a connection fails fast (503)."""
    return _engine(database_url(conn_id), True)


def dispose_engines() -> None:
    """Forget cached engines (tests point the connection elsewhere; forked processes must not share)."""
    _engine.cache_clear()


class UsesDatabase:
    """Base of the store's repositories: a given engine (tests, a dry run) or the definitions DB's."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = engine()
        return self._engine
