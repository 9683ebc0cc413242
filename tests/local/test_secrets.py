"""`make run`'s secrets: files only their owner reads, and a Postgres that asks for a password."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg2
import pytest

from automation.local.embedded_db import EmbeddedPostgres, free_port
from automation.local.stack import airflow_env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_files_are_written_0600_and_older_readable_ones_are_fixed(tmp_path) -> None:
    home = tmp_path / "airflow"
    home.mkdir()
    (home / ".jwt_secret").write_text("from-an-older-run")
    (home / ".jwt_secret").chmod(0o644)
    pg = EmbeddedPostgres(tmp_path / "pgdata", free_port())  # not started: only its URL is used
    env = airflow_env(home, pg, api_port=free_port())
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "from-an-older-run"  # kept: tokens survive
    for path in (home / ".jwt_secret", home / ".api_secret_key", home / "passwords.json", tmp_path / "pgpass"):
        assert mode(path) == 0o600, path
    assert pg.password in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_the_embedded_postgres_refuses_a_client_without_the_password(pg: EmbeddedPostgres) -> None:
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host=pg.host, port=pg.port, user="postgres", dbname="postgres", connect_timeout=5)
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host=pg.host, port=pg.port, user="postgres", password="guess", dbname="postgres")
    psycopg2.connect(pg.url("postgres")).close()
    assert mode(pg.password_path) == 0o600


def test_a_data_directory_that_trusted_everyone_asks_for_a_password_after_its_next_start(tmp_path) -> None:
    old = EmbeddedPostgres(tmp_path / "pgdata", free_port())
    old.pgdata.mkdir()
    old._run("initdb", "-D", str(old.pgdata), "--auth=trust", "-U", "postgres")  # as make run did before
    old.start()
    try:
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(host=old.host, port=old.port, user="postgres", dbname="postgres", connect_timeout=5)
        psycopg2.connect(old.url("postgres")).close()
    finally:
        old.stop()
