"""Engines for the definitions database (and any other Postgres named by an Airflow connection).

A connection means here what it means to Airflow: `AIRFLOW_CONN_<ID>` is parsed with the rules of
`airflow.models.connection.Connection` (URI or JSON; percent-encoded hosts such as a socket
directory, `__extra__`, extras as query parameters); without the env var, Airflow's own lookup
(secrets backends, its metadata database) is asked. libpq extras (`sslmode`, ...) reach psycopg2."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from sqlalchemy import URL, Engine, create_engine

from automation.config import DB_CONN_ID, db_connect_timeout, db_pool_timeout
from automation.errors import StoreError

#: what Airflow's `Connection` calls the query parameter that carries the whole extra as JSON
EXTRA_KEY = "__extra__"
#: libpq connection keywords: the extras that reach psycopg2 (others, like the Postgres hook's
#: `cursor` or `iam`, mean something to Airflow's hooks only and are left out)
LIBPQ_KEYWORDS = frozenset(
    [
        "hostaddr",
        "passfile",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "requiressl",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcertmode",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "service",
        "target_session_attrs",
        "load_balance_hosts",
        "require_auth",
        "host",
    ]
)
POSTGRES_TYPES = ("postgres", "postgresql", "postgresql+psycopg2", "")


@dataclass(frozen=True)
class ConnectionParts:
    """The fields of an Airflow connection, as `airflow.models.connection.Connection` parses them."""

    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _normalize_conn_type(conn_type: str) -> str:
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


def _netloc_hostname(parts: SplitResult) -> str:
    """Airflow's `_parse_netloc_to_hostname`: a percent-encoded path (a socket directory) keeps its case."""
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc
        if "@" in hostname:
            hostname = hostname.rsplit("@", 1)[1]
        if ":" in hostname:
            hostname = hostname.split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


def _extra_dict(extra: Any) -> dict[str, Any]:
    if not extra:
        return {}
    if isinstance(extra, dict):
        return dict(extra)
    try:
        value = json.loads(extra)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def parse_uri(uri: str) -> ConnectionParts:
    """`Connection(uri=...)`'s rules (airflow/models/connection.py `_parse_from_uri`), without importing Airflow."""
    if uri.count("://") > 2:
        raise ValueError("invalid connection string (more than two '://')")
    with_protocol = uri.count("://") == 2
    conn_type = urlsplit(uri).scheme
    rest = uri.replace(f"{conn_type}://", "" if with_protocol else "//")
    if with_protocol:
        first = rest.split("://", 1)[0]
        if "@" in first or ":" in first:
            raise ValueError("invalid connection string")
    parts = urlsplit(rest)
    host = _netloc_hostname(parts)
    if host and with_protocol:
        host = f"{parts.scheme}://{host}"
    quoted_schema = parts.path[1:]
    extra: dict[str, Any] = {}
    if parts.query:
        query: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        if EXTRA_KEY in query:
            extra = _extra_dict(query[EXTRA_KEY])
        else:
            for key, value in query.items():
                try:
                    if value:
                        query[key] = json.loads(value)
                except ValueError:
                    pass
            extra = query
    return ConnectionParts(
        conn_type=_normalize_conn_type(conn_type),
        host=host or None,
        port=parts.port,
        schema=unquote(quoted_schema) if quoted_schema else None,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        extra=extra,
    )


def parse_json(raw: str) -> ConnectionParts:
    """`Connection.from_json`'s rules: the JSON form of `AIRFLOW_CONN_*` ({conn_type, host, port, ...})."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a JSON connection must be an object")
    port = data.get("port")
    return ConnectionParts(
        conn_type=_normalize_conn_type(data.get("conn_type") or ""),
        host=data.get("host") or None,
        port=int(port) if port else None,
        schema=data.get("schema") or None,
        login=data.get("login") or None,
        password=data.get("password") or None,
        extra=_extra_dict(data.get("extra")),
    )


def parse_connection(raw: str) -> ConnectionParts:
    """An `AIRFLOW_CONN_*` value: JSON when it starts with `{`, else a URI (as Airflow decides)."""
    return parse_json(raw) if raw.lstrip().startswith("{") else parse_uri(raw)


def _airflow_connection(conn_id: str) -> ConnectionParts:
    """Airflow's own lookup: secrets backends, then its metadata database (from the CLI too)."""
    from automation.airflow_adapter.connections import lookup_connection

    conn = lookup_connection(conn_id)
    return ConnectionParts(
        conn_type=_normalize_conn_type(conn.conn_type or ""),
        host=conn.host or None,
        port=conn.port or None,
        schema=conn.schema or None,
        login=conn.login or None,
        password=conn.password or None,
        extra=_extra_dict(getattr(conn, "extra_dejson", None)),
    )


def connection_parts(conn_id: str = DB_CONN_ID) -> ConnectionParts:
    """The connection `conn_id`: the env var first (no Airflow import: the events API and the DAG
    parse resolve it often), then Airflow's lookup (secrets backends, its metadata database)."""
    env = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(env)
    if raw is None:
        try:
            return _airflow_connection(conn_id)
        except Exception as exc:
            raise StoreError(
                f"Airflow connection {conn_id!r} is not defined; set {env}="
                "postgresql://user:pass@host:port/db or create it with `airflow connections add`"
            ) from exc
    try:
        return parse_connection(raw)
    except ValueError as exc:
        raise StoreError(f"{env} is not a valid Airflow connection (URI or JSON): {exc}") from None


def sqlalchemy_url(parts: ConnectionParts, conn_id: str = DB_CONN_ID) -> URL:
    """A psycopg2 URL: a socket directory (a host starting with `/`) and libpq extras (`sslmode`, ...)
    go in the query, which SQLAlchemy hands to psycopg2 as connection keywords."""
    if parts.conn_type not in POSTGRES_TYPES:
        raise StoreError(
            f"connection {conn_id!r} must be a Postgres connection (postgresql://...), got {parts.conn_type}"
        )
    query = {key: str(value) for key, value in parts.extra.items() if key in LIBPQ_KEYWORDS and value is not None}
    host = parts.host
    if host and host.startswith("/"):
        query["host"] = host
        host = None
    return URL.create(
        "postgresql+psycopg2",
        username=parts.login,
        password=parts.password,
        host=host,
        port=parts.port,
        database=parts.schema,
        query=query,
    )


def describe(conn_id: str = DB_CONN_ID) -> str:
    """`host:port/db` of a connection for messages (no password), or its id when it cannot be resolved."""
    try:
        parts = connection_parts(conn_id)
    except StoreError:
        return conn_id
    where = parts.host or "(local socket)"
    return f"{where}{f':{parts.port}' if parts.port else ''}/{parts.schema or ''}"


def database_url(conn_id: str = DB_CONN_ID) -> str:
    """SQLAlchemy URL (with the password) of the Postgres an Airflow connection names."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if raw is not None:  # every engine() call comes here (the events API: each request): parse once
        return _env_url(conn_id, raw)
    return sqlalchemy_url(connection_parts(conn_id), conn_id).render_as_string(hide_password=False)


@lru_cache(maxsize=64)
def _env_url(conn_id: str, raw: str) -> str:
    """`raw` is the env var's value: the cache key (a changed value is parsed again)."""
    return sqlalchemy_url(connection_parts(conn_id), conn_id).render_as_string(hide_password=False)


def error_reason(exc: BaseException) -> str:
    """The driver's first line (`connection refused`, `password authentication failed`), no SQL text."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def check_database(conn_id: str = DB_CONN_ID, *, table: str | None = "automation.workflows") -> None:
    """Raise a StoreError that says what to do when the database cannot be reached or, with `table`,
    has not been migrated (no such table)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    where = describe(conn_id)
    try:
        with engine(conn_id).connect() as conn:
            missing = table is not None and conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None
    except DBAPIError as exc:
        raise StoreError(f"cannot reach the automation database at {where}: {error_reason(exc)}") from None
    if missing:
        raise StoreError(f"the automation database at {where} has no tables: run `automation migrate`")


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
    (`[automation] db_pool_timeout`): a request that cannot get a connection fails fast (503)."""
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
