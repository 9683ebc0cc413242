"""Airflow's authentication and DAG authorization, per workflow, for the plugin's API and pages.

A route with a `{key}` is checked against that workflow's DAG (`automation__<key>`), and lists keep
only the workflows whose DAG the user may read, so an auth manager with per-DAG permissions (FAB
roles, Keycloak...) applies to workflows as it does to their DAGs. Routes without a key need the DAG
permission without a DAG id, as Airflow's own DAG list does. The api and the pages both import this
module (neither imports the other).

Relies on (there is no public API for a plugin's FastAPI app to reuse Airflow's auth):
- `airflow.api_fastapi.core_api.security`: `get_user` (a bearer token, else the UI session cookie),
  `requires_access_dag`, `requires_access_asset` (the dependencies Airflow's own routes use).
- `airflow.api_fastapi.app.get_auth_manager` and its `is_authorized_dag`, with
  `airflow.api_fastapi.auth.managers.models.resource_details.DagDetails` / `DagAccessEntity`.
- `airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN`: the UI session cookie.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from fastapi import Depends, Request

from automation.config import dag_id_for

Method = Literal["GET", "POST", "PUT", "DELETE"]


def dag_access(method: Method, access_entity: Any = None) -> Any:
    """A route dependency: Airflow's `requires_access_dag`, on the path's workflow when it has one."""
    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag

    def check(request: Request, user: Any = Depends(get_user)) -> None:  # noqa: B008
        key = request.path_params.get("key")
        requires_access_dag(method, access_entity, param_dag_id=dag_id_for(key) if key else None)(request, user)

    return Depends(check)


def run_access(method: Literal["GET", "PUT"]) -> Any:
    """Airflow's check for the runs of this workflow's DAG (`DagAccessEntity.RUN`), per DAG."""
    return dag_access(method, run_entity())


def asset_access(method: Literal["GET", "POST"]) -> Any:
    """A route dependency: Airflow's `requires_access_asset` (posting events is posting asset events)."""
    from airflow.api_fastapi.core_api.security import requires_access_asset

    return Depends(requires_access_asset(method=method))


def current_user() -> Any:
    """A route dependency giving the signed-in user (Airflow's `get_user`)."""
    from airflow.api_fastapi.core_api.security import get_user

    return Depends(get_user)


def run_entity() -> Any:
    """`DagAccessEntity.RUN`: a DAG's runs, for `dag_access` and `readable_keys`."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

    return DagAccessEntity.RUN


def authorized_keys(user: Any, method: Method, keys: Iterable[str], access_entity: Any = None) -> set[str]:
    """The workflows among `keys` on whose DAG `user` may do `method` (on its runs, with `run_entity()`):
    what `dag_access(method)` decides for each one's path."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    manager = get_auth_manager()
    return {
        key for key in keys
        if manager.is_authorized_dag(method=method, access_entity=access_entity, details=DagDetails(id=dag_id_for(key)),
                                     user=user)
    }  # fmt: skip


def readable_keys(user: Any, keys: Iterable[str], access_entity: Any = None) -> set[str]:
    """The workflows among `keys` whose DAG `user` may read (their runs, with `run_entity()`)."""
    return authorized_keys(user, "GET", keys, access_entity)


def runs_readable_by(user: Any, wanted: list[str] | None) -> list[str] | None:
    """The workflows whose runs `user` may read, among `wanted` (default: all stored); None = all of them."""
    from automation.store.repository import Repository

    keys = wanted if wanted is not None else [w.key for w in Repository().list_workflows()]
    readable = readable_keys(user, keys, run_entity())
    return None if wanted is None and readable == set(keys) else [k for k in keys if k in readable]


def allowed(user: Any, method: Method, key: str | None = None, access_entity: Any = None) -> bool:
    """What `dag_access(method, access_entity)` decides, to show or hide an action on a page: on the
    workflow `key`'s own DAG (so a per-DAG auth manager hides what it would refuse), or without a DAG
    id for an action on no workflow yet (create)."""
    if key is not None:
        return key in authorized_keys(user, method, [key], access_entity)
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(
        get_auth_manager().is_authorized_dag(
            method=method, access_entity=access_entity, details=DagDetails(), user=user
        )
    )


def session_cookie_name() -> str:
    """The name of the Airflow UI's session cookie (its JWT)."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    return str(COOKIE_NAME_JWT_TOKEN)
