"""`airflow_adapter.connections` against the installed Airflow: the Task SDK's lookup (env vars) and
core's `Connection.get_connection_from_secrets` (the metadata database, where `airflow connections add`
stores them), `AirflowNotFoundException` for a missing one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from automation.airflow_adapter.connections import (
    connection_extra,
    connection_password,
    get_connection,
    lookup_connection,
)
from automation.airflow_adapter.db import airflow_session
from automation.errors import PermanentActionError

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture
def stored_conn_id() -> Iterator[str]:
    """A connection only in Airflow's metadata database (as `airflow connections add` stores it)."""
    from airflow.models.connection import Connection

    conn_id = f"adapter_{uuid.uuid4().hex[:8]}"
    with airflow_session() as session:
        session.add(Connection(conn_id=conn_id, conn_type="http", host="db.test", password="from-db",
                               extra=json.dumps({"k": 1})))  # fmt: skip
    yield conn_id
    with airflow_session() as session:
        session.query(Connection).filter(Connection.conn_id == conn_id).delete()


def test_an_environment_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ADAPTER_ENV", json.dumps({"conn_type": "http", "host": "env.test",
                                                               "password": "from-env", "extra": {"a": "b"}}))  # fmt: skip
    conn = lookup_connection("adapter_env")
    assert (conn.host, conn.password, connection_extra(conn)) == ("env.test", "from-env", {"a": "b"})
    assert connection_password("adapter_env") == "from-env"


def test_a_connection_in_the_metadata_database(stored_conn_id: str) -> None:
    conn = get_connection(stored_conn_id)
    assert (conn.host, conn.password, connection_extra(conn)) == ("db.test", "from-db", {"k": 1})
    assert connection_password(stored_conn_id) == "from-db"


def test_a_missing_connection() -> None:
    assert connection_password("adapter_missing") is None
    with pytest.raises(PermanentActionError, match="'adapter_missing' is not defined.*AIRFLOW_CONN_ADAPTER_MISSING"):
        get_connection("adapter_missing")
    with pytest.raises(Exception, match="adapter_missing"):
        lookup_connection("adapter_missing")
