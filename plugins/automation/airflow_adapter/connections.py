"""Secrets come only from Airflow connections (env vars `AIRFLOW_CONN_*`, secrets backends, the DB).

Relies on: the Task SDK's `BaseHook.get_connection` (public) first, then core's
`airflow.models.connection.Connection.get_connection_from_secrets` and
`airflow.exceptions.AirflowNotFoundException`. Outside Airflow's task processes (the `automation` CLI,
the api-server's webhook route) the SDK's lookup has no execution API to ask and skips Airflow's
metadata database, where `airflow connections add` stores connections; core's lookup is the only one
that reads it there."""

from __future__ import annotations

from typing import Any

from automation.errors import PermanentActionError


def lookup_connection(conn_id: str) -> Any:
    """Airflow's lookup of `conn_id` (env vars, secrets backends, the metadata database); raises what
    Airflow raises. Outside Airflow's servers and tasks (the `automation` CLI) the Task SDK's lookup
    skips Airflow's metadata database: Airflow's core lookup, which includes it, is asked next."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as sdk_error:
        from airflow.models.connection import Connection

        try:
            return Connection.get_connection_from_secrets(conn_id)
        except Exception:
            raise sdk_error from None


def connection_password(conn_id: str) -> str | None:
    """The password of connection `conn_id`; None when no such connection is defined. Any other
    failure (Airflow's database down) propagates, so a caller can tell "not configured" from "cannot
    tell now". Core's lookup: it runs in the api-server, where the SDK's has nothing to ask."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        password = Connection.get_connection_from_secrets(conn_id).password
    except AirflowNotFoundException:
        return None
    return password if isinstance(password, str) else None


def get_connection(conn_id: str) -> Any:
    """The Airflow connection `conn_id`; a missing one is a permanent, clearly named error."""
    try:
        return lookup_connection(conn_id)
    except Exception as exc:
        raise PermanentActionError(
            f"Airflow connection {conn_id!r} is not defined; create it (`airflow connections add {conn_id} ...`) "
            f"or set AIRFLOW_CONN_{conn_id.upper()}"
        ) from exc


def connection_extra(conn: Any) -> dict[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    return dict(extra) if isinstance(extra, dict) else {}
