"""Connections mean what they mean to Airflow: parsed by Airflow's rules, and what they say (a socket
directory, `sslmode`, libpq options) reaches the real Postgres."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from sqlalchemy import text

from automation.errors import StoreError
from automation.store.db import engine, parse_connection
from tests.conftest import PG

URIS = [
    "postgresql://postgres@%2Ftmp%2FPg/automation",
    "postgresql://user:p%40ss%3Aw%2Fd@db.example.com:6432/my%20db?sslmode=require&connect_timeout=5",
    "postgres://u@%2Fcloudsql%2Fproject%3Aregion%3AInstance/db",
    "postgresql://u:p@%2Fvar%2Frun%2Fpostgresql:5433/db",
    "postgres://u:p@h/db?__extra__=%7B%22sslmode%22%3A+%22disable%22%2C+%22options%22%3A+%22-c+x%3D1%22%7D",
    "postgresql+psycopg2://u:p@Host.Example.COM:5432/Db?application_name=x&keepalives=1",
    "postgres://u:p@h:5/db?cursor=dictcursor&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
    "postgres://@h/",
    "postgres://h",
    "my-type://u:p@h/db",
    "postgres://http://h.example.com:80/path",
]


@pytest.mark.parametrize("uri", URIS)
def test_uri_parses_as_airflow_parses_it(uri: str) -> None:
    from airflow.models.connection import Connection

    theirs = Connection(conn_id="x", uri=uri)
    ours = parse_connection(uri)
    assert (ours.conn_type, ours.host or None, ours.port, ours.schema or None) == (
        theirs.conn_type,
        theirs.host or None,
        theirs.port,
        theirs.schema or None,
    )
    assert (ours.login or None, ours.password or None, ours.extra) == (
        theirs.login or None,
        theirs.password or None,
        theirs.extra_dejson,
    )


def test_json_form_parses_as_airflow_parses_it() -> None:
    from airflow.models.connection import Connection

    raw = json.dumps({"conn_type": "postgres", "host": "/tmp/pg", "port": "5433", "login": "u", "password": "p@:/",
                      "schema": "db", "extra": {"sslmode": "disable"}})  # fmt: skip
    theirs, ours = Connection.from_json(raw, conn_id="x"), parse_connection(raw)
    assert (ours.conn_type, ours.host, ours.port, ours.schema, ours.login, ours.password, ours.extra) == (
        theirs.conn_type, theirs.host, theirs.port, theirs.schema, theirs.login, theirs.password, theirs.extra_dejson,
    )  # fmt: skip


def _server_side(conn_id: str) -> tuple[object, str, str]:
    """(client address as the server sees it (None over a Unix socket), ssl in use, statement_timeout)."""
    with engine(conn_id).connect() as conn:
        return conn.execute(
            text(
                "SELECT inet_client_addr(), (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())::text, "
                "current_setting('statement_timeout')"
            )
        ).one()


def _password() -> str:
    return quote(PG.password, safe="")


def test_unix_socket_host_as_airflow_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    socket_dir = quote(str(PG.pgdata / "sock"), safe="")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCKET_DB", f"postgresql://postgres:{_password()}@{socket_dir}:{PG.port}/automation"
    )
    client, _, _ = _server_side("socket_db")
    assert client is None  # a Unix socket: no client address


def test_sslmode_in_the_uri_reaches_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    base = f"postgresql://postgres:{_password()}@127.0.0.1:{PG.port}/automation"
    monkeypatch.setenv("AIRFLOW_CONN_SSL_DB", f"{base}?sslmode=disable&options=-c%20statement_timeout%3D4321")
    client, ssl, timeout = _server_side("ssl_db")
    assert client is not None and ssl == "false" and timeout == "4321ms"
    monkeypatch.setenv("AIRFLOW_CONN_SSL_DB", f"{base}?sslmode=require")  # this server has no TLS: refused
    with pytest.raises(Exception, match="SSL"):
        _server_side("ssl_db")


def test_json_connection_with_socket_and_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = {"conn_type": "postgres", "host": str(PG.pgdata / "sock"), "port": PG.port, "login": "postgres",
           "password": PG.password, "schema": "automation",
           "extra": {"sslmode": "disable", "options": "-c statement_timeout=1234", "cursor": "dictcursor"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_JSON_DB", json.dumps(raw))
    assert _server_side("json_db") == (None, "false", "1234ms")


def test_extra_as_one_json_query_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = quote(json.dumps({"sslmode": "disable", "options": "-c statement_timeout=2222"}), safe="")
    monkeypatch.setenv("AIRFLOW_CONN_EXTRA_DB",
                       f"postgres://postgres:{_password()}@127.0.0.1:{PG.port}/automation?__extra__={extra}")  # fmt: skip
    assert _server_side("extra_db")[1:] == ("false", "2222ms")


def test_not_postgres_or_malformed_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ODD_DB", "mysql://u:p@h/db")
    with pytest.raises(StoreError, match="must be a Postgres connection"):
        engine("odd_db")
    monkeypatch.setenv("AIRFLOW_CONN_ODD_DB", "{not json")
    with pytest.raises(StoreError, match="AIRFLOW_CONN_ODD_DB is not a valid Airflow connection"):
        engine("odd_db")


@pytest.mark.usefixtures("airflow_db")
def test_connection_stored_in_airflow_is_found_without_the_env_var() -> None:
    """No `AIRFLOW_CONN_*`: Airflow's lookup (secrets backends, then its metadata database) answers."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    uri = f"postgresql://postgres:{_password()}@{quote(str(PG.pgdata / 'sock'), safe='')}:{PG.port}/automation"
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == "stored_socket_db").delete()
        session.add(Connection(conn_id="stored_socket_db", uri=uri + "?options=-c%20statement_timeout%3D3333"))
    try:
        assert _server_side("stored_socket_db") == (None, "false", "3333ms")
        from automation.airflow_adapter.connections import get_connection  # what actions (http_request, mail) use

        assert get_connection("stored_socket_db").host == str(PG.pgdata / "sock")
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "stored_socket_db").delete()
